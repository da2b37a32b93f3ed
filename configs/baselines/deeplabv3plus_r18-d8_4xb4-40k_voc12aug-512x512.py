# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Student-alone baseline matching AttnFD's DeepLabV3+ R101 -> R18 (VOC aug).
_base_ = [
    'mmseg::deeplabv3plus/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512.py',  # noqa: E501
    '../_base_/safe_hooks.py'
]
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)
# Local path of ImageNet weights for the student backbone (MMSeg uses
# 'open-mmlab://resnet18_v1c'); None trains from scratch; nothing is
# downloaded.
student_pretrained = None
model = dict(
    _scope_='mmseg',
    pretrained=student_pretrained,
    backbone=dict(depth=18),
    decode_head=dict(
        c1_in_channels=64, c1_channels=12, in_channels=512, channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))

# crash-safe checkpoints (write, then rename)
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
