# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The protocol's teacher: width 32, output stride 8, 6000 iterations.
_base_ = './_base_camvid240.py'
model = _base_.teacher_model
max_iters = 6000
# the protocol's warm-up, then poly decay to the new end
param_scheduler = [_base_.param_scheduler[0],
                   dict(_base_.param_scheduler[1], end=max_iters)]
train_cfg = dict(max_iters=max_iters)
