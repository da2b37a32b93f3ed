# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# OFD, overhaul of feature distillation (Heo et al., ICCV 2019): MMRazor's
# OFDLoss and ConvModuleConnector through StageDistiller, DeepLabV3+
# R101-d8 -> R18-d8 on CamVid (teacher, student, data and schedule of the
# AttnFD CamVid config).
_base_ = [
    '../attnfd/attnfd_deeplabv3plus-r101-d8_deeplabv3plus-r18-d8_4xb2-40k_camvid-360x480.py',  # noqa: E501
    '../_base_/distillers/ofd.py'
]
# a full-precision teacher: the AttnFD config's 'auto' was chosen for AttnFD
model = dict(teacher_precision='fp32', distiller=_base_.ofd_distiller)
