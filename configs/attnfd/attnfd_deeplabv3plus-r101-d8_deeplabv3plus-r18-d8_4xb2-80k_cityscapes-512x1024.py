# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AttnFD (arXiv 2403.05451):
# DeepLabV3+ R101-d8 -> DeepLabV3+ R18-d8 on Cityscapes.
# The base is the student-alone baseline (same data and schedule); the
# AttnFD options not set here are ../_base_/distillers/attnfd.py's.
_base_ = [
    '../baselines/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    '../_base_/models/teacher_deeplabv3plus_r101-d8.py',
    '../_base_/distillers/attnfd.py'
]
# The teacher is MMSeg's model-zoo checkpoint
# deeplabv3plus_r101-d8_512x1024_80k_cityscapes_20200606_114143-068fcfe9.pth
# (pass its local path: --cfg-options model.teacher_ckpt=PATH).
# (the teacher base's classes are Cityscapes' 19)
model = dict(_base_.attnfd_model, architecture=_base_.model,
             teacher=_base_.teacher_model)
val_cfg = _base_.distill_val_cfg
