# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The ssTEM study's DeepLabV3+ (`deeplabv3plus`, plain): MMSeg's DeepLabV3+
# with a ResNetV1c-18 layout at base width 16 (stage channels 16, 32, 64,
# 128, output stride 8), depthwise-separable ASPP head 32 channels with an
# 8-channel low-level branch on stage 1 (logits at 1/4), FCN auxiliary head
# 16; BN, from scratch, sliding-window test at the crop
# (./_base_student256.py).
_base_ = [
    'mmseg::_base_/models/deeplabv3plus_r50-d8.py', './_base_student256.py'
]
norm_cfg = dict(type='BN', requires_grad=True)
model = _base_.pop('student')
model.update(decode_head=dict(in_channels=128, channels=32, c1_in_channels=16,
                              c1_channels=8))
