# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# UNet-S5-D16 + FCN on MedSeg COVID-19 CT (4 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_unet-s5-d16_fcn_1xb4-20k_medseg-covid-384x384.py
_base_ = [
    'mmseg::_base_/models/fcn_unet_s5-d16.py',
    '../_base_/studies/medseg_covid_20k.py'
]
model = _base_.pop('student')
# MMSeg's UNet trains from scratch: the study's `pretrained` (the path of
# ResNet-50 weights) is no key of this config
_base_.pop('pretrained')
