# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AttnFD (arXiv 2403.05451):
# DeepLabV3+ R101-d8 -> DeepLabV3+ MobileNetV2-d8 on Pascal VOC 2012 aug.
# The base is the student-alone baseline (same data and schedule); the
# AttnFD options not set here are ../_base_/distillers/attnfd.py's.
_base_ = [
    '../baselines/mobilenet-v2-d8_deeplabv3plus_4xb4-40k_voc12aug-512x512.py',
    '../_base_/models/teacher_deeplabv3plus_r101-d8.py',
    '../_base_/distillers/attnfd.py'
]
# The teacher is MMSeg's model-zoo checkpoint
# deeplabv3plus_r101-d8_512x512_40k_voc12aug_20200613_205333-faf03387.pth
# (pass its local path: --cfg-options model.teacher_ckpt=PATH).
teacher = _base_.teacher_model
teacher.decode_head.num_classes = 21
teacher.auxiliary_head.num_classes = 21
model = dict(_base_.attnfd_model, architecture=_base_.model, teacher=teacher)
val_cfg = _base_.distill_val_cfg
