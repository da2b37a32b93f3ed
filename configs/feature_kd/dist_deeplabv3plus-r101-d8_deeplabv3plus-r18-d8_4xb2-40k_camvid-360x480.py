# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# DIST, distillation from a stronger teacher (Huang et al., NeurIPS 2022):
# MMRazor's DISTLoss on the logits through StageDistiller, every pixel a
# sample; DeepLabV3+ R101-d8 -> R18-d8 on CamVid (teacher, student, data
# and schedule of the AttnFD CamVid config).
_base_ = [
    '../attnfd/attnfd_deeplabv3plus-r101-d8_deeplabv3plus-r18-d8_4xb2-40k_camvid-360x480.py',  # noqa: E501
    '../_base_/distillers/dist.py'
]
# a full-precision teacher: the AttnFD config's 'auto' was chosen for AttnFD
model = dict(teacher_precision='fp32', distiller=_base_.dist_distiller)
