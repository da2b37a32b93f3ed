# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The ssTEM CPU study's runtime (bench/sstem/run.py --protocol cpu): all 20
# Drosophila ssTEM sections at half size (512x512, 5 classes), split by
# section (train 0-11, val 12-15, test 16-19), converted once by
#   python tools/dataset_converters/drosophila_sstem.py \
#       --data-root ../shared/data/drosophila_sstem \
#       --out-dir data/drosophila_sstem-512 --split study --scale 0.5
# 256x256 crops (the sliding window at test, stride 170), batch 4, SGD lr
# 0.05 poly for 1400 iterations from scratch, val every 350 iterations;
# choose on val, score the test split once per finished run. The rest of the
# runtime is the CPU studies' (../_base_/runtime_cpu_study.py). The leaf
# configs inherit MMSeg's own model config beside this file.
_base_ = [
    '../_base_/datasets/drosophila_sstem.py', '../_base_/runtime_cpu_study.py'
]
data_root = 'data/drosophila_sstem-512'
img_scale = (512, 512)  # (W, H): the converted sections
crop_size = (256, 256)  # (H, W)
slide_stride = (170, 170)  # (H, W): 2/3 of the crop
slide_test_cfg = dict(mode='slide', crop_size=crop_size, stride=slide_stride)
num_classes = 5
max_iters = 1400
# the dataset's pipelines at this scale and crop
train_pipeline = [
    dict(step, scale=img_scale) if step.type == 'RandomResize' else
    dict(step, crop_size=crop_size) if step.type == 'RandomCrop' else step
    for step in _base_.train_pipeline
]
test_pipeline = [
    dict(step, scale=img_scale) if step.type == 'Resize' else step
    for step in _base_.test_pipeline
]
train_dataloader = dict(batch_size=4, **_base_.loader, dataset=dict(
    data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(**_base_.loader, dataset=dict(
    data_root=data_root, pipeline=test_pipeline))
test_dataloader = dict(**_base_.loader, dataset=dict(
    data_root=data_root, pipeline=test_pipeline))
param_scheduler = [
    dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=max_iters,
         by_epoch=False)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters,
                 val_interval=350)
default_hooks = dict(
    logger=dict(interval=20),
    # frequent (small) checkpoints: an interruption loses little
    checkpoint=dict(interval=100, save_best=['mIoU'], rule='greater'))
# a resumed run draws the same dropout and flips as an uninterrupted one,
# and validation does not move the random stream
custom_hooks = [dict(type='RandomStateHook')]
env_cfg = dict(dist_cfg=dict(backend='nccl'))
