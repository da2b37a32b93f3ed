# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Data and schedule shared by the `make demo` quickstart: the bundled CamVid
# sample (demo/camvid_mini, 48 train / 24 val at 240x180), MMSeg's default
# runtime, SGD with poly decay, a short iteration schedule for 2 CPU cores.
_base_ = [
    '../_base_/datasets/camvid-240x180.py',
    'mmseg::_base_/default_runtime.py',
]
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)
data_root = 'demo/camvid_mini'
max_iters = 300
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4),
    clip_grad=None)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=20, by_epoch=False),
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=20, end=max_iters,
         by_epoch=False),
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False, interval=100,
                    max_keep_ckpts=1, save_last=True))
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='RandomStateHook')]
log_processor = dict(by_epoch=False)
randomness = dict(seed=0)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
