# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# PKD, Pearson correlation feature distillation (Cao et al., NeurIPS 2022):
# MMRazor's PKDLoss through StageDistiller, DeepLabV3+ R101-d8 -> R18-d8 on
# CamVid (teacher, student, data and schedule of the AttnFD CamVid config).
_base_ = '../attnfd/attnfd_deeplabv3plus-r101-d8_deeplabv3plus-r18-d8_4xb2-40k_camvid-360x480.py'  # noqa: E501

model = dict(
    distiller=dict(
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
        loss_name='loss_pkd'))
