# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The plain student trained twice as long (`baseline_2x`): the
# compute-matched line runs through it and the 2000-iteration baseline.
_base_ = './deeplabv3plus_r18-w16-d16_1xb8-2k_camvid-240x180.py'
max_iters = 4000
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=100,
         by_epoch=False),
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=100, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters)
