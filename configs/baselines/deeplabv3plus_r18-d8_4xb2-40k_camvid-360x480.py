# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Student-alone baseline matching AttnFD's DeepLabV3+ R101 -> R18 (CamVid).
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/datasets/camvid.py', '../_base_/schedules/schedule_40k.py'
]
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)
# Local path of ImageNet weights for the student backbone (MMSeg uses
# 'open-mmlab://resnet18_v1c'); None trains from scratch; nothing is
# downloaded.
student_pretrained = None
model = dict(
    _scope_='mmseg',
    pretrained=student_pretrained,
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=dict(depth=18),
    decode_head=dict(
        c1_in_channels=64,
        c1_channels=12,
        in_channels=512,
        channels=128,
        num_classes=11),
    auxiliary_head=dict(in_channels=256, channels=64, num_classes=11))
