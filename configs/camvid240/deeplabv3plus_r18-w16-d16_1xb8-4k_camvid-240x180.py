# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The plain student trained twice as long (`baseline_2x`): the
# compute-matched line runs through it and the 2000-iteration baseline.
_base_ = './deeplabv3plus_r18-w16-d16_1xb8-2k_camvid-240x180.py'
max_iters = 4000
# the protocol's warm-up, then poly decay to the new end
param_scheduler = [_base_.param_scheduler[0],
                   dict(_base_.param_scheduler[1], end=max_iters)]
train_cfg = dict(max_iters=max_iters)
