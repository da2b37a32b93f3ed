# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The ssTEM study's UNet (`unet`, plain): MMSeg's UNet-S5-D16 at base width
# 8 (MMSeg: 64; its decoder runs at full resolution, so half the other
# models' width) with its FCN head at 8 channels and the FCN auxiliary head
# at 8; BN, from scratch, sliding-window test at the crop
# (./_base_student256.py).
_base_ = ['mmseg::_base_/models/fcn_unet_s5-d16.py', './_base_student256.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = _base_.pop('student')
# MMSeg's UNet encoder-decoder at base width 8, not the ResNet layout
model.backbone = dict(base_channels=8, norm_cfg=norm_cfg)
model.update(decode_head=dict(in_channels=8, channels=8),
             auxiliary_head=dict(in_channels=16, channels=8))
