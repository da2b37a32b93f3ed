# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AttnFD (arXiv 2403.05451):
# DeepLabV3+ R101-d8 -> DeepLabV3+ R18-d8 on COCO-Stuff164k.
# The base is the student-alone baseline (same data and schedule); the
# AttnFD options not set here are ../_base_/distillers/attnfd.py's.
_base_ = [
    '../baselines/deeplabv3plus_r18-d8_4xb4-80k_coco-stuff164k-512x512.py',
    '../_base_/models/teacher_deeplabv3plus_r101-d8.py',
    '../_base_/distillers/attnfd.py'
]
# The teacher: MMSeg has no CamVid model; train
# ../_base_/models/teacher_deeplabv3plus_r101-d8.py on CamVid first and pass
# its checkpoint: --cfg-options model.teacher_ckpt=PATH.
teacher = _base_.teacher_model
teacher.decode_head.num_classes = 171
teacher.auxiliary_head.num_classes = 171
model = dict(_base_.attnfd_model, architecture=_base_.model, teacher=teacher)
val_cfg = _base_.distill_val_cfg
