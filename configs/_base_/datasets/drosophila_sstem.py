# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Drosophila ssTEM, 5 classes, 1024x1024 8-bit sections (loaded as 3-channel
# grey). Split by section: 0-15 train, 16-19 test (no separate val split, so
# val == test). Produce data_root with tools/dataset_converters/
# drosophila_sstem.py.
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)
dataset_type = 'DrosophilaSSTEMDataset'
data_root = 'data/drosophila_sstem'
img_scale = (1024, 1024)  # (W, H)
crop_size = (512, 512)  # (H, W)
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
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='img_dir/test', seg_map_path='ann_dir/test'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU', 'mDice'])
test_evaluator = val_evaluator
