# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AttnFD (arXiv 2403.05451):
# PSPNet R101-d8 -> PSPNet R18-d8 on Cityscapes
# (the pair of MMRazor's CWD config).
# The base is the student-alone baseline (same data and schedule); the
# AttnFD options not set here are ../_base_/distillers/attnfd.py's.
_base_ = [
    '../baselines/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    '../_base_/models/teacher_pspnet_r101-d8.py',
    '../_base_/distillers/attnfd.py'
]
# The teacher is MMSeg's model-zoo checkpoint
# pspnet_r101-d8_512x1024_80k_cityscapes_20200606_112211-e1e1100f.pth
# (pass its local path: --cfg-options model.teacher_ckpt=PATH).
# (the teacher base's classes are Cityscapes' 19)
model = dict(_base_.attnfd_model, architecture=_base_.model,
             teacher=_base_.teacher_model)
val_cfg = _base_.distill_val_cfg
