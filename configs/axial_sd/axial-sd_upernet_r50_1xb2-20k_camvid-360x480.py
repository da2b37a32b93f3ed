# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Axial self-distillation of UPerNet R-50 on CamVid:
# CE(student) + CE(axial teacher) + MSE(student, teacher); the options
# not set here are ../_base_/distillers/axial_sd.py's.
_base_ = ['../baselines/upernet_r50_1xb2-20k_camvid-360x480.py',
          '../_base_/distillers/axial_sd.py']
# logits at 1/4 of the crop: at most 128 per side
model = dict(_base_.axial_sd_model, architecture=_base_.model, distiller=dict(
    _base_.axial_sd_model.distiller, axial=dict(span=128)))
