# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Axial self-distillation of UPerNet R-50 on Drosophila ssTEM:
# CE(student) + CE(axial teacher) + MSE(student, teacher); the options
# not set here are ../_base_/distillers/axial_sd.py's.
_base_ = ['../baselines/upernet_r50_1xb2-20k_drosophila-sstem-512x512.py',
          '../_base_/distillers/axial_sd_slide.py']
# logits at 1/4 of the crop: at most 128 per side
model = dict(_base_.axial_sd_model, architecture=_base_.model, distiller=dict(
    _base_.axial_sd_model.distiller, axial=dict(span=128)))
# validate (same sliding-window inference) and keep the best of both outputs
_base_.update(_base_.pop('axial_sd_slide_runtime'))
