# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The ssTEM study's UNet (`unet`, plain): MMSeg's UNet-S5-D16 at base width
# 8 (MMSeg: 64; its decoder runs at full resolution, so half the other
# models' width) with its FCN head at 8 channels and the FCN auxiliary head
# at 8; BN, from scratch, sliding-window test at the crop.
_base_ = ['mmseg::_base_/models/fcn_unet_s5-d16.py', './_base_sstem256.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    _scope_='mmseg',
    pretrained=None,
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=dict(base_channels=8, norm_cfg=norm_cfg),
    decode_head=dict(in_channels=8, channels=8,
                     num_classes=_base_.num_classes, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=16, channels=8,
                        num_classes=_base_.num_classes, norm_cfg=norm_cfg),
    test_cfg=_base_.slide_test_cfg)
