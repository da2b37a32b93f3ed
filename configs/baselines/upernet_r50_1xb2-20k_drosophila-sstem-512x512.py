# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# UPerNet R-50 on Drosophila ssTEM (5 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_upernet_r50_1xb2-20k_drosophila-sstem-512x512.py
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    '../_base_/datasets/drosophila_sstem.py',
    '../_base_/schedules/schedule_20k.py'
]
# Path of local ImageNet ResNet-50-V1c weights (MMSeg's
# open-mmlab://resnet50_v1c); None trains from scratch.
pretrained = None
num_classes = 5
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    pretrained=pretrained,
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes),
    test_cfg=_base_.slide_test_cfg)
