# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# PKD, Pearson correlation feature distillation (Cao et al., NeurIPS 2022):
# MMRazor's PKDLoss through StageDistiller; the stage names are those of a
# DeepLabV3+ pair.
# A config applies it to a student/teacher pair it inherits:
#   model = dict(distiller=_base_.pkd_distiller)
pkd_distiller = dict(
    _delete_=True,
    type='StageDistiller',
    # the AttnFD stages: backbone last stage, ASPP output, decoder
    stages=['backbone.layer4', 'decode_head.bottleneck',
            'decode_head.sep_bottleneck'],
    # PKD compares channel by channel: a 1x1 conv + BN maps the
    # student's channels to the teacher's (MMRazor's FPN configs need
    # none, their channels are equal)
    student_connector=dict(type='ConvModuleConnector', kernel_size=1,
                           norm_cfg=dict(type='BN'), act_cfg=None),
    # weight of MMRazor's PKD config for Faster R-CNN R101 -> R50
    loss=dict(type='PKDLoss', loss_weight=6),
    loss_name='loss_pkd')
