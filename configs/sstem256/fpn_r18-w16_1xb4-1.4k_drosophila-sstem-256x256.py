# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The ssTEM study's Semantic FPN (`fpn`, plain): MMSeg's FPN with a
# ResNetV1c-18 layout at base width 16 (stage channels 16, 32, 64, 128,
# output stride 32), FPN neck 64 channels, FPN head 32 (logits at 1/4), no
# auxiliary head; BN, from scratch, sliding-window test at the crop
# (./_base_student256.py).
_base_ = ['mmseg::_base_/models/fpn_r50.py', './_base_student256.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = _base_.pop('student')
model.pop('auxiliary_head')  # Semantic FPN has no auxiliary head
model.update(
    neck=dict(in_channels=[16, 32, 64, 128], out_channels=64),
    decode_head=dict(in_channels=[64, 64, 64, 64], channels=32))
