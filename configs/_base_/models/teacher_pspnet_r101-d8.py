# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Distillation teacher: PSPNet R101-d8 (MMSeg's pspnet_r50-d8 model at depth
# 101), as the variable `teacher_model` (see the DeepLabV3+ teacher for how
# AttnFD configs use it). Same ResNetV1c-101-d8 backbone and FCN auxiliary
# head as that teacher; only the decode head differs.
_base_ = './teacher_deeplabv3plus_r101-d8.py'
# MMSeg's two decode heads share their input, width, classes, dropout, norm
# and loss: the DeepLabV3+ head's settings with pyramid pooling in place of
# the separable ASPP (dilations) and its low-level branch (c1_*)
teacher_model = dict(
    decode_head=dict(
        {
            k: v
            for k, v in _base_.teacher_model.decode_head.items()
            if k not in ('type', 'dilations', 'c1_in_channels', 'c1_channels')
        },
        _delete_=True,
        type='PSPHead',
        pool_scales=(1, 2, 3, 6)))
