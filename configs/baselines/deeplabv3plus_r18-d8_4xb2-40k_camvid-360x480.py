# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Student-alone baseline matching AttnFD's DeepLabV3+ R101 -> R18 (CamVid).
_base_ = [
    '../_base_/models/deeplabv3plus_r18-d8.py',
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
    decode_head=dict(num_classes=11),
    auxiliary_head=dict(num_classes=11))
