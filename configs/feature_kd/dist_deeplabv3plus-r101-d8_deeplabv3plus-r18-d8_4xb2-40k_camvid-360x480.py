# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# DIST, distillation from a stronger teacher (Huang et al., NeurIPS 2022):
# MMRazor's DISTLoss on the logits through StageDistiller, every pixel a
# sample; DeepLabV3+ R101-d8 -> R18-d8 on CamVid (teacher, student, data
# and schedule of the AttnFD CamVid config).
_base_ = '../attnfd/attnfd_deeplabv3plus-r101-d8_deeplabv3plus-r18-d8_4xb2-40k_camvid-360x480.py'  # noqa: E501

model = dict(
    distiller=dict(
        _delete_=True,
        type='StageDistiller',
        stages=['decode_head.conv_seg'],  # logits
        # [N, C, H, W] -> [N*H*W, C]: inter-class relation per pixel,
        # intra-class relation over all pixels of the batch
        student_connector=dict(type='PixelSamplesConnector'),
        teacher_connector=dict(type='PixelSamplesConnector'),
        # the values of MMRazor's DIST config (ImageNet R34 -> R18)
        loss=dict(type='DISTLoss', inter_loss_weight=1.0,
                  intra_loss_weight=1.0, tau=1, loss_weight=2),
        loss_name='loss_dist'))
