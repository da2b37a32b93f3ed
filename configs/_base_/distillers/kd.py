# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# KD (Hinton et al., 2015) on the logits, per pixel: MMRazor's KLDivergence
# through StageDistiller.
# A config applies it to a student/teacher pair it inherits:
#   model = dict(distiller=_base_.kd_distiller)
kd_distiller = dict(
    _delete_=True,
    type='StageDistiller',
    stages=['decode_head.conv_seg'],  # logits
    # tau 1 and weight 1 (MMRazor's defaults) on the per-pixel KL
    # divergence: reduction='mean' also averages over the 11 classes,
    # so the weight is 1 x 11 (the kd arm of bench/accuracy/arms.py)
    loss=dict(type='KLDivergence', tau=1, loss_weight=11,
              reduction='mean'),
    loss_name='loss_kd')
