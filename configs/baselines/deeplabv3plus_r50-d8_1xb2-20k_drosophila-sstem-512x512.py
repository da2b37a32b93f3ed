# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# DeepLabV3+ (DepthwiseSeparableASPP) R-50-D8 on Drosophila ssTEM (5 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_deeplabv3plus_r50-d8_1xb2-20k_drosophila-sstem-512x512.py
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/studies/drosophila_sstem_20k.py'
]
model = _base_.pop('student')
