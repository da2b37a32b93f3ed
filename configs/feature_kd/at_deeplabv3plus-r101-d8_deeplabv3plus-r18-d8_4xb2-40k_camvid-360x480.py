# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AT, attention transfer (Zagoruyko & Komodakis, ICLR 2017): MMRazor's ATLoss
# through StageDistiller, DeepLabV3+ R101-d8 -> R18-d8 on CamVid. Teacher,
# student, data and schedule are those of the AttnFD CamVid config.
_base_ = [
    '../attnfd/attnfd_deeplabv3plus-r101-d8_deeplabv3plus-r18-d8_4xb2-40k_camvid-360x480.py',  # noqa: E501
    '../_base_/distillers/at.py'
]
# a full-precision teacher: the AttnFD config's 'auto' was chosen for AttnFD
model = dict(teacher_precision='fp32', distiller=_base_.at_distiller)
