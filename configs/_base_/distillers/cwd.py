# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# CWD, channel-wise distillation (Shu et al., ICCV 2021) on the logits:
# MMRazor's ChannelWiseDivergence through StageDistiller.
# A config applies it to a student/teacher pair it inherits:
#   model = dict(distiller=_base_.cwd_distiller)
cwd_distiller = dict(
    _delete_=True,
    type='StageDistiller',
    stages=['decode_head.conv_seg'],  # logits
    # tau 1, weight 5: MMRazor's CWD segmentation config
    loss=dict(type='ChannelWiseDivergence', tau=1, loss_weight=5),
    loss_name='loss_cwd')
