# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# DeepLabV3+ (DepthwiseSeparableASPP) R-50-D8 on CamVid (11 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_deeplabv3plus_r50-d8_1xb2-20k_camvid-360x480.py
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/datasets/camvid.py',
    '../_base_/schedules/schedule_20k.py'
]
# Path of local ImageNet ResNet-50-V1c weights (MMSeg's
# open-mmlab://resnet50_v1c); None trains from scratch.
pretrained = None
num_classes = 11
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    pretrained=pretrained,
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes))
