# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# DeepLabV3+ R18-d8, the AttnFD student: MMSeg's deeplabv3plus_r50-d8 model
# at depth 18 with the channel widths of MMSeg's
# deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py.
_base_ = 'mmseg::_base_/models/deeplabv3plus_r50-d8.py'
model = dict(
    backbone=dict(depth=18),
    decode_head=dict(
        c1_in_channels=64, c1_channels=12, in_channels=512, channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))
