# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# CamVid at half resolution (240x180) for CPU benchmarks. Works on full-res
# data (resized on the fly) or on data converted with --scale 0.5, e.g. the
# bundled demo sample: data_root = 'demo/camvid_mini'.
_base_ = './camvid.py'
img_scale = (240, 180)  # (W, H)
crop_size = (180, 240)  # (H, W)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.5, 2.0),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
