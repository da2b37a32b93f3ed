# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Student-alone baseline matching AttnFD's DeepLabV3+ R101 -> R18 (Cityscapes).
_base_ = [
    'mmseg::deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py',  # noqa: E501
    '../_base_/safe_hooks.py'
]
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)
# Local path of ImageNet weights for the student backbone (MMSeg uses
# 'open-mmlab://resnet18_v1c'); None trains from scratch; nothing is
# downloaded.
student_pretrained = None
model = dict(_scope_='mmseg', pretrained=student_pretrained)

# crash-safe checkpoints (write, then rename)
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
