# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Axial self-distillation of DeepLabV3+ (DepthwiseSeparableASPP) R-50-D8 on CamVid:
# CE(student) + CE(axial teacher) + MSE(student, teacher); the options
# not set here are ../_base_/distillers/axial_sd.py's.
_base_ = ['../baselines/deeplabv3plus_r50-d8_1xb2-20k_camvid-360x480.py',
          '../_base_/distillers/axial_sd.py']
# logits at 1/8 of the crop: the default span (64) covers them
model = dict(_base_.axial_sd_model, architecture=_base_.model)
