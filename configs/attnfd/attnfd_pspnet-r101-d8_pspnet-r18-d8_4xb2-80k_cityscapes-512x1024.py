# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AttnFD (arXiv 2403.05451):
# PSPNet R101-d8 -> PSPNet R18-d8 on Cityscapes
# (the pair of MMRazor's CWD config).
# The base is the student-alone baseline (same data and schedule).
_base_ = '../baselines/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)

# Local path of the trained teacher: MMSeg model-zoo checkpoint
# pspnet_r101-d8_512x1024_80k_cityscapes_20200606_112211-e1e1100f.pth
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
        type='PSPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        pool_scales=(1, 2, 3, 6),
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
            ('backbone.layer4', 'backbone.layer4'),  # backbone last stage
            ('decode_head.bottleneck', 'decode_head.bottleneck'),  # PPM out
        ],
        teacher_attention='frozen',  # 'parameter_free' = public code
        normalize='channel',  # 'tensor' = public code
        loss_weight=2.0))

val_cfg = dict(_delete_=True, type='mmrazor.SingleTeacherDistillValLoop')
