# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# DeepLabV3 (ASPP) R-50-D8 on MedSeg COVID-19 CT (4 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_deeplabv3_r50-d8_1xb4-20k_medseg-covid-384x384.py
_base_ = [
    'mmseg::_base_/models/deeplabv3_r50-d8.py',
    '../_base_/datasets/medseg_covid.py',
    '../_base_/schedules/schedule_20k.py'
]
# Path of local ImageNet ResNet-50-V1c weights (MMSeg's
# open-mmlab://resnet50_v1c); None trains from scratch.
pretrained = None
num_classes = 4
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    pretrained=pretrained,
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes),
    test_cfg=_base_.slide_test_cfg)
