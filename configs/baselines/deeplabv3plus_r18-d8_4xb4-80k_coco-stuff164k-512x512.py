# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Student-alone baseline matching AttnFD's DeepLabV3+ R101 -> R18
# (COCO-Stuff164k).
_base_ = [
    '../_base_/models/deeplabv3plus_r18-d8.py',
    'mmseg::_base_/datasets/coco-stuff164k.py',
    '../_base_/schedules/schedule_80k.py'
]
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)
# Local path of ImageNet weights for the student backbone (MMSeg uses
# 'open-mmlab://resnet18_v1c'); None trains from scratch; nothing is
# downloaded.
student_pretrained = None
crop_size = (512, 512)
model = dict(
    _scope_='mmseg',
    pretrained=student_pretrained,
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=171),
    auxiliary_head=dict(num_classes=171))
