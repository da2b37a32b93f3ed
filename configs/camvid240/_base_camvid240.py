# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The CamVid CPU protocol's runtime (bench/README.md §1): CamVid SegNet at
# half resolution (240x180, 11 classes, void ignored), converted once by
#   python tools/dataset_converters/camvid.py \
#       --data-root ../shared/data/camvid_segnet --out-dir data/camvid240 \
#       --splits train val test --scale 0.5
# batch 8, SGD lr 0.05 with 100 warm-up iterations then poly, from
# scratch; choose on val, score the test split once (test loop). The rest of
# the runtime is the CPU studies' (../_base_/runtime_cpu_study.py).
_base_ = [
    '../_base_/datasets/camvid-240x180.py',
    '../_base_/models/deeplabv3plus_r18-width_camvid240.py',
    '../_base_/runtime_cpu_study.py'
]
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)
data_root = 'data/camvid240'
max_iters = 2000
warmup = 100
train_dataloader = dict(batch_size=8, **_base_.loader,
                        dataset=dict(data_root=data_root))
val_dataloader = dict(**_base_.loader, dataset=dict(data_root=data_root))
test_dataloader = dict(**_base_.loader, dataset=dict(
    data_root=data_root,
    data_prefix=dict(img_path='img_dir/test', seg_map_path='ann_dir/test')))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, begin=0, end=warmup,
         by_epoch=False),
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=warmup,
         end=max_iters, by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=250)
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(interval=250, save_last=True))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
# the teacher every distillation config of this folder reads: the file
# the teacher config's own run writes (tools/train.py, default work dir)
teacher_ckpt = ('work_dirs/deeplabv3plus_r18-w32-d8_1xb8-6k_camvid-240x180/'
                'iter_6000.pth')
