# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The protocol's teacher: width 32, output stride 8, 6000 iterations.
_base_ = './_base_camvid240.py'
model = _base_.teacher_model
max_iters = 6000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=100,
         by_epoch=False),
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=100, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters)
