# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Axial self-distillation of DeepLabV3+ (DepthwiseSeparableASPP) R-50-D8 on MedSeg COVID-19 CT:
# CE(student) + CE(axial teacher) + MSE(student, teacher); the options
# not set here are ../_base_/distillers/axial_sd.py's.
_base_ = ['../baselines/deeplabv3plus_r50-d8_1xb4-20k_medseg-covid-384x384.py',
          '../_base_/distillers/axial_sd_slide.py']
# logits at 1/8 of the crop: the default span (64) covers them
model = dict(_base_.axial_sd_model, architecture=_base_.model)
# validate (same sliding-window inference) and keep the best of both outputs
_base_.update(_base_.pop('axial_sd_slide_runtime'))
