# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Distillation teacher: DeepLabV3+ R101-d8 (MMSeg's deeplabv3plus_r50-d8
# model at depth 101), as the variable `teacher_model`
# so that AttnFD configs inherit it beside their student baseline:
#   _base_ = ['../baselines/<student>.py', '../_base_/models/<this file>']
#   teacher = _base_.teacher_model
#   teacher.decode_head.num_classes = ...
# pretrained=None: its weights come from `teacher_ckpt` (a local file), so
# nothing is downloaded. num_classes defaults to Cityscapes' 19.
teacher_norm_cfg = dict(type='SyncBN', requires_grad=True)
teacher_model = dict(
    _scope_='mmseg',
    type='EncoderDecoder',
    pretrained=None,
    backbone=dict(
        type='ResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=teacher_norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        dilations=(1, 12, 24, 36),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=teacher_norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=1024,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg=teacher_norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
