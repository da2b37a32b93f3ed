# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The CamVid 240x180 (11 classes) teacher and student of the CPU protocol,
# shared by configs/demo/ and configs/camvid240/: MMSeg's DeepLabV3+ with a
# ResNetV1c-18 layout at reduced width, trained from scratch. `width` base
# channels, stage channels width * (1, 2, 4, 8); output stride 8 dilates
# the last two stages (MMSeg's -d8), 16 the last one. Named variables, so
# single-model configs (`model = {{_base_.teacher_model}}`) and distillation
# configs (teacher and student side by side) share one definition.


def _deeplabv3plus(width, output_stride=16, crop_size=(180, 240)):
    # stride 8 dilates the last two stages (MMSeg's -d8), 16 the last one
    dilations, strides = {8: ((1, 1, 2, 4), (1, 2, 1, 1)),
                          16: ((1, 1, 1, 2), (1, 2, 2, 1))}[output_stride]
    norm_cfg = dict(type='BN', requires_grad=True)
    # what both heads set beside their layout and loss weight
    head = dict(dropout_ratio=0.1, num_classes=11, norm_cfg=norm_cfg,
                align_corners=False)
    return dict(
        _scope_='mmseg',
        type='EncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=255,
            size=crop_size),
        pretrained=None,
        backbone=dict(
            type='ResNetV1c',
            depth=18,
            stem_channels=width,
            base_channels=width,
            num_stages=4,
            out_indices=(0, 1, 2, 3),
            dilations=dilations,
            strides=strides,
            norm_cfg=norm_cfg,
            norm_eval=False,
            style='pytorch',
            contract_dilation=True),
        decode_head=dict(
            type='DepthwiseSeparableASPPHead',
            in_channels=width * 8,
            in_index=3,
            channels=width * 2,
            dilations=(1, 6, 12, 18),
            c1_in_channels=width,
            c1_channels=width // 2,
            loss_decode=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
            **head),
        auxiliary_head=dict(
            type='FCNHead',
            in_channels=width * 4,
            in_index=2,
            channels=width,
            num_convs=1,
            concat_input=False,
            loss_decode=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4),
            **head),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


teacher_model = _deeplabv3plus(32, output_stride=8)
student_model = _deeplabv3plus(16)
del _deeplabv3plus
