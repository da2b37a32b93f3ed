# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AT, attention transfer (Zagoruyko & Komodakis, ICLR 2017): MMRazor's ATLoss
# through StageDistiller, DeepLabV3+ R101-d8 -> R18-d8 on CamVid. Teacher,
# student, data and schedule are those of the AttnFD CamVid config.
_base_ = '../attnfd/attnfd_deeplabv3plus-r101-d8_deeplabv3plus-r18-d8_4xb2-40k_camvid-360x480.py'  # noqa: E501

model = dict(
    distiller=dict(
        _delete_=True,
        type='StageDistiller',
        # the outputs of the four residual groups, as in the paper
        stages=['backbone.layer1', 'backbone.layer2', 'backbone.layer3',
                'backbone.layer4'],
        # beta / 2 per stage with beta = 1000, the reference code's value
        # (github.com/szagoruyko/attention-transfer, linked from ATLoss);
        # MMRazor ships no AT config
        loss=dict(type='ATLoss', loss_weight=500.0),
        loss_name='loss_at'))
