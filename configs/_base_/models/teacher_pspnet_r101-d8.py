# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Distillation teacher: PSPNet R101-d8 (MMSeg's pspnet_r50-d8 model at depth
# 101), as the variable `teacher_model` (see the DeepLabV3+ teacher for how
# AttnFD configs use it). Same ResNetV1c-101-d8 backbone and FCN auxiliary
# head as that teacher; only the decode head differs.
_base_ = './teacher_deeplabv3plus_r101-d8.py'
teacher_model = dict(
    decode_head=dict(
        _delete_=True,
        type='PSPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        pool_scales=(1, 2, 3, 6),
        dropout_ratio=0.1,
        num_classes=19,
        norm_cfg={{_base_.teacher_norm_cfg}},
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)))
