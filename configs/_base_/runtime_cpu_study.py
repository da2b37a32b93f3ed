# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The runtime the CPU studies share (../camvid240/_base_camvid240.py and
# ../sstem256/_base_sstem256.py): SGD lr 0.05 (momentum 0.9, weight decay
# 5e-4), iteration-based loops, crash-safe checkpoints of which one is kept,
# one persistent data worker per loader (`loader`, for the study's loaders),
# seed 0, no cuDNN benchmark, forked workers with single-threaded OpenCV. A
# study sets its schedule, its log and checkpoint intervals, which checkpoint
# it keeps and its distributed backend.
default_scope = 'mmseg'
loader = dict(num_workers=1, persistent_workers=True)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False,
                    max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False,
               mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0))
randomness = dict(seed=0)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends,
                  name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
