# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# OFD, overhaul of feature distillation (Heo et al., ICCV 2019): MMRazor's
# OFDLoss and ConvModuleConnector through StageDistiller, DeepLabV3+
# R101-d8 -> R18-d8 on CamVid (teacher, student, data and schedule of the
# AttnFD CamVid config).
_base_ = '../attnfd/attnfd_deeplabv3plus-r101-d8_deeplabv3plus-r18-d8_4xb2-40k_camvid-360x480.py'  # noqa: E501

model = dict(
    distiller=dict(
        _delete_=True,
        type='StageDistiller',
        # pre-ReLU features, i.e. BN outputs: ASPP output and decoder
        stages=['decode_head.bottleneck.bn',
                'decode_head.sep_bottleneck.1.pointwise_conv.bn'],
        # 1x1 conv + BN, no activation, as MMRazor's OFD config
        student_connector=dict(type='ConvModuleConnector', kernel_size=1,
                               norm_cfg=dict(type='BN'), act_cfg=None),
        # max(teacher, margin), the margin computed from the teacher BN
        teacher_connector=dict(type='OFDMarginConnector'),
        # the two deepest weights (0.5, 1.0) of MMRazor's OFD config
        loss=[dict(type='OFDLoss', loss_weight=0.5),
              dict(type='OFDLoss', loss_weight=1.0)],
        loss_name='loss_ofd'))
