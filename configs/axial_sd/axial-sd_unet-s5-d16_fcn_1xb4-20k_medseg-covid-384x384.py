# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Axial self-distillation of UNet-S5-D16 + FCN on MedSeg COVID-19 CT:
# CE(student) + CE(axial teacher) + MSE(student, teacher); the options
# not set here are ../_base_/distillers/axial_sd.py's.
_base_ = ['../baselines/unet-s5-d16_fcn_1xb4-20k_medseg-covid-384x384.py',
          '../_base_/distillers/axial_sd_slide.py']
# full-resolution logits, attention on a 1/4 grid
model = dict(_base_.axial_sd_model, architecture=_base_.model, distiller=dict(
    _base_.axial_sd_model.distiller, axial=dict(span=128, stride=4)))
# validate (same sliding-window inference) and keep the best of both outputs
_base_.update(_base_.pop('axial_sd_slide_runtime'))
