# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AT, attention transfer (Zagoruyko & Komodakis, ICLR 2017): MMRazor's ATLoss
# through StageDistiller, on the four residual groups of a ResNet.
# A config applies it to a student/teacher pair it inherits:
#   model = dict(distiller=_base_.at_distiller)
at_distiller = dict(
    _delete_=True,
    type='StageDistiller',
    # the outputs of the four residual groups, as in the paper
    stages=['backbone.layer1', 'backbone.layer2', 'backbone.layer3',
            'backbone.layer4'],
    # beta / 2 per stage with beta = 1000, the reference code's value
    # (github.com/szagoruyko/attention-transfer, linked from ATLoss);
    # MMRazor ships no AT config
    loss=dict(type='ATLoss', loss_weight=500.0),
    loss_name='loss_at')
