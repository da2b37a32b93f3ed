# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Student-alone baseline matching AttnFD's DeepLabV3+ R101 -> MobileNetV2
# (VOC aug).
_base_ = [
    'mmseg::deeplabv3plus/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512.py',  # noqa: E501
    '../_base_/safe_hooks.py'
]
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)
# Local path of ImageNet weights for the student backbone (MMSeg uses
# 'mmcls://mobilenet_v2'); None trains from scratch, nothing is downloaded.
student_pretrained = None
model = dict(
    _scope_='mmseg',
    pretrained=student_pretrained,
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        widen_factor=1.,
        strides=(1, 2, 2, 1, 1, 1, 1),
        dilations=(1, 1, 1, 2, 2, 4, 4),
        out_indices=(1, 2, 4, 6),
        norm_cfg=dict(type='SyncBN', requires_grad=True)),
    decode_head=dict(in_channels=320, c1_in_channels=24),
    auxiliary_head=dict(in_channels=96))

# crash-safe checkpoints (write, then rename)
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
