# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The CamVid CPU protocol's runtime (bench/README.md §1): CamVid SegNet at
# half resolution (240x180, 11 classes, void ignored), converted once by
#   python tools/dataset_converters/camvid.py \
#       --data-root ../shared/data/camvid_segnet --out-dir data/camvid240 \
#       --splits train val test --scale 0.5
# batch 8, SGD lr 0.05 with 100 warm-up iterations then poly, from
# scratch; choose on val, score the test split once (test loop).
_base_ = [
    '../_base_/datasets/camvid-240x180.py',
    '../_base_/models/deeplabv3plus_r18-width_camvid240.py'
]
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)
default_scope = 'mmseg'
data_root = 'data/camvid240'
max_iters = 2000
warmup = 100
loader = dict(num_workers=1, persistent_workers=True)
train_dataloader = dict(batch_size=8, **loader,
                        dataset=dict(data_root=data_root))
val_dataloader = dict(**loader, dataset=dict(data_root=data_root))
test_dataloader = dict(**loader, dataset=dict(
    data_root=data_root,
    data_prefix=dict(img_path='img_dir/test', seg_map_path='ann_dir/test')))
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=warmup,
         by_epoch=False),
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=warmup,
         end=max_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=250)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False,
                    interval=250, max_keep_ckpts=1, save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False,
               mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends,
                  name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# the teacher every distillation config of this folder reads: the file
# the teacher config's own run writes (tools/train.py, default work dir)
teacher_ckpt = ('work_dirs/deeplabv3plus_r18-w32-d8_1xb8-6k_camvid-240x180/'
                'iter_6000.pth')
