# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Student-alone baseline matching AttnFD's PSPNet R101 -> R18 (Cityscapes),
# the pair of MMRazor's CWD config.
_base_ = [
    'mmseg::pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py',
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
