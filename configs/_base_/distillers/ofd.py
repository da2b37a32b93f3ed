# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# OFD, overhaul of feature distillation (Heo et al., ICCV 2019): MMRazor's
# OFDLoss and ConvModuleConnector through StageDistiller; the stage names
# are those of a DeepLabV3+ pair.
# A config applies it to a student/teacher pair it inherits:
#   model = dict(distiller=_base_.ofd_distiller)
ofd_distiller = dict(
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
    loss_name='loss_ofd')
