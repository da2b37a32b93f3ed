# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Control of axial SD for the ssTEM study's DeepLabV3 (`deeplabv3`, arm `ce2`):
# the plain model with its decode-head CE weight doubled (the SD arm adds a
# second CE, on the teacher logits), no axial block.
_base_ = './deeplabv3_r18-w16-d8_1xb4-1.4k_drosophila-sstem-256x256.py'
model = dict(decode_head=dict(loss_decode=dict(loss_weight=2.0)))
