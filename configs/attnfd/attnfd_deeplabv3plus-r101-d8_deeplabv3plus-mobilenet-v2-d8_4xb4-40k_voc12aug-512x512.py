# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AttnFD (arXiv 2403.05451):
# DeepLabV3+ R101-d8 -> DeepLabV3+ MobileNetV2-d8 on Pascal VOC 2012 aug.
# The base is the student-alone baseline (same data and schedule).
_base_ = '../baselines/mobilenet-v2-d8_deeplabv3plus_4xb4-40k_voc12aug-512x512.py'  # noqa: E501
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)

# Local path of the trained teacher: MMSeg model-zoo checkpoint
# deeplabv3plus_r101-d8_512x512_40k_voc12aug_20200613_205333-faf03387.pth
teacher_ckpt = None
teacher_norm_cfg = dict(type='SyncBN', requires_grad=True)
teacher = dict(
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
        num_classes=21,
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
        num_classes=21,
        norm_cfg=teacher_norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='SegSingleTeacherDistill',
    architecture={{_base_.model}},
    teacher=teacher,
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='AttnFDDistiller',
        stages=[
            ('backbone.layer7', 'backbone.layer4'),  # backbone last stage
            ('decode_head.bottleneck', 'decode_head.bottleneck'),  # ASPP out
            ('decode_head.sep_bottleneck',  # decoder, before classifier
             'decode_head.sep_bottleneck'),
        ],
        teacher_attention='frozen',  # 'parameter_free' = public code
        normalize='channel',  # 'tensor' = public code
        loss_weight=2.0))

val_cfg = dict(_delete_=True, type='mmrazor.SingleTeacherDistillValLoop')
