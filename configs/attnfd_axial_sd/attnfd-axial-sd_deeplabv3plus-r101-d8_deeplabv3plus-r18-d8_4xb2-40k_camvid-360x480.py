# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AttnFD (arXiv 2403.05451) from a DeepLabV3+ R101-d8 teacher together with
# axial self-distillation of the DeepLabV3+ R18-d8 student, CamVid.
# Same student, data, schedule, teacher and AttnFD stages as the AttnFD
# config it inherits; the distiller adds the axial self-teacher output.
# The fitted teacher attention is the AttnFD config's too (same teacher and
# stages, so the same file): fit it once with tools/fit_teacher_attention.py
# on either config.
_base_ = '../attnfd/attnfd_deeplabv3plus-r101-d8_deeplabv3plus-r18-d8_4xb2-40k_camvid-360x480.py'  # noqa: E501

# the package defaults: the logits of 'decode_head' (its conv_seg) refined by
# an AxialConnector with its defaults (64 channels, 8 heads, span 64), the
# axial losses of ../_base_/distillers/axial_sd.py; without the AttnFD
# config's CWD term (AttnFD + axial SD was measured without it)
model = dict(distiller=dict(
    type='AttnFDAxialDistiller', logit_loss=None, logit_loss_name=None))
