# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# KD (Hinton et al., 2015) on the logits, per pixel: MMRazor's KLDivergence
# through StageDistiller, DeepLabV3+ R101-d8 -> R18-d8 on CamVid (teacher,
# student, data and schedule of the AttnFD CamVid config).
_base_ = '../attnfd/attnfd_deeplabv3plus-r101-d8_deeplabv3plus-r18-d8_4xb2-40k_camvid-360x480.py'  # noqa: E501

model = dict(
    distiller=dict(
        _delete_=True,
        type='StageDistiller',
        stages=['decode_head.conv_seg'],  # logits
        # tau 1 and weight 1 (MMRazor's defaults) on the per-pixel KL
        # divergence: reduction='mean' also averages over the 11 classes,
        # so the weight is 1 x 11 (the kd arm of bench/camvid_arms.py)
        loss=dict(type='KLDivergence', tau=1, loss_weight=11,
                  reduction='mean'),
        loss_name='loss_kd'))
