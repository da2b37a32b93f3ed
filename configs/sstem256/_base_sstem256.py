# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The ssTEM CPU study's runtime (bench/sstem/run.py --protocol cpu): all 20
# Drosophila ssTEM sections at half size (512x512, 5 classes), split by
# section (train 0-11, val 12-15, test 16-19), converted once by
#   python tools/dataset_converters/drosophila_sstem.py \
#       --data-root ../shared/data/drosophila_sstem \
#       --out-dir data/drosophila_sstem-512 --split study --scale 0.5
# 256x256 crops (the sliding window at test, stride 170), batch 4, SGD lr
# 0.05 poly for 1400 iterations from scratch, val every 350 iterations;
# choose on val, score the test split once per finished run. The leaf
# configs inherit MMSeg's own model config beside this file.
_base_ = '../_base_/datasets/drosophila_sstem.py'
default_scope = 'mmseg'
data_root = 'data/drosophila_sstem-512'
img_scale = (512, 512)  # (W, H): the converted sections
crop_size = (256, 256)  # (H, W)
slide_stride = (170, 170)  # (H, W): 2/3 of the crop
slide_test_cfg = dict(mode='slide', crop_size=crop_size, stride=slide_stride)
num_classes = 5
max_iters = 1400
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    # EM sections have no preferred orientation
    dict(type='RandomFlip', prob=[0.25, 0.25],
         direction=['horizontal', 'vertical']),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
loader = dict(num_workers=1, persistent_workers=True)
train_dataloader = dict(batch_size=4, **loader, dataset=dict(
    data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(**loader, dataset=dict(
    data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(**loader, dataset=dict(
    data_root=data_root, pipeline=test_pipeline))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=350)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # frequent (small) checkpoints: an interruption loses little
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False,
                    interval=100, max_keep_ckpts=1, save_best=['mIoU'],
                    rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'))
# a resumed run draws the same dropout and flips as an uninterrupted one,
# and validation does not move the random stream
custom_hooks = [dict(type='RandomStateHook')]
env_cfg = dict(cudnn_benchmark=False,
               mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
randomness = dict(seed=0)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends,
                  name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
