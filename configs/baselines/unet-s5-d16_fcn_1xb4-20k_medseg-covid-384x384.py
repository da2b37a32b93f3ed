# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# UNet-S5-D16 + FCN on MedSeg COVID-19 CT (4 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_unet-s5-d16_fcn_1xb4-20k_medseg-covid-384x384.py
_base_ = [
    'mmseg::_base_/models/fcn_unet_s5-d16.py',
    '../_base_/datasets/medseg_covid.py',
    '../_base_/schedules/schedule_20k.py'
]
num_classes = 4
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes),
    test_cfg=_base_.slide_test_cfg)
