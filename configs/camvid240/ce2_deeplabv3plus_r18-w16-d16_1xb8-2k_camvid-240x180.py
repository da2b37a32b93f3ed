# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Control of axial SD (`ce2`): the plain student with its CE weight doubled.
_base_ = './deeplabv3plus_r18-w16-d16_1xb8-2k_camvid-240x180.py'
model = dict(decode_head=dict(loss_decode=dict(loss_weight=2.0)))
