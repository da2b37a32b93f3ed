# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# DIST, distillation from a stronger teacher (Huang et al., NeurIPS 2022):
# MMRazor's DISTLoss on the logits through StageDistiller, every pixel a
# sample.
# A config applies it to a student/teacher pair it inherits:
#   model = dict(distiller=_base_.dist_distiller)
dist_distiller = dict(
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
    loss_name='loss_dist')
