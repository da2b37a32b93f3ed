# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# UNet-S5-D16 + FCN on CamVid (11 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_unet-s5-d16_fcn_1xb2-20k_camvid-360x480.py
_base_ = [
    'mmseg::_base_/models/fcn_unet_s5-d16.py',
    '../_base_/datasets/camvid.py',
    '../_base_/schedules/schedule_20k.py'
]
num_classes = 11
model = dict(
    # UNet needs sides divisible by 16 (CamVid is 360 high)
    data_preprocessor=dict(size_divisor=16, test_cfg=dict(size_divisor=16)),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes),
    test_cfg=dict(_delete_=True, mode='whole'))
