# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# UNet-S5-D16 + FCN on Drosophila ssTEM (5 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_unet-s5-d16_fcn_1xb2-20k_drosophila-sstem-512x512.py
_base_ = [
    'mmseg::_base_/models/fcn_unet_s5-d16.py',
    '../_base_/studies/drosophila_sstem_20k.py'
]
model = _base_.pop('student')
# MMSeg's UNet trains from scratch: the study's `pretrained` (the path of
# ResNet-50 weights) is no key of this config
_base_.pop('pretrained')
