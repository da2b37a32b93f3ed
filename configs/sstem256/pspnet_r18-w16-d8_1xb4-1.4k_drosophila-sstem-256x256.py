# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The ssTEM study's PSPNet (`pspnet`, plain): MMSeg's PSPNet with a
# ResNetV1c-18 layout at base width 16 (stage channels 16, 32, 64, 128,
# output stride 8), PSP head 32 channels, FCN auxiliary head 16; BN, from
# scratch, sliding-window test at the crop (./_base_student256.py).
_base_ = ['mmseg::_base_/models/pspnet_r50-d8.py', './_base_student256.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = _base_.pop('student')
model.update(decode_head=dict(in_channels=128, channels=32))
