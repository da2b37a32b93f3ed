# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# UPerNet R-50 on CamVid (11 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_upernet_r50_1xb2-20k_camvid-360x480.py
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    '../_base_/studies/camvid_20k.py'
]
model = _base_.pop('student')
