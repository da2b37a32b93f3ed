# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# MedSeg COVID-19 CT, 4 classes (bg, GGO, consolidation, pleural effusion),
# 512x512 axial slices windowed to 8-bit (lung window -600/1500 HU).
# For the 3-class variant convert with --three-class and set
# dataset_type = 'MedSegCovidCT3ClassDataset' (and num_classes=3).
# Produce data_root with tools/dataset_converters/medseg_covid.py.
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)
dataset_type = 'MedSegCovidCTDataset'
data_root = 'data/medseg_covid'
img_scale = (512, 512)  # (W, H)
crop_size = (384, 384)  # (H, W)
# Test-time sliding window = the training crop (the decode head and the
# axial self-distillation block see the input size they trained on);
# stride 2/3 of the crop: 2x2 windows per 512x512 slice.
slide_stride = (256, 256)  # (H, W)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    # on grey slices only the brightness/contrast parts have an effect
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
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='img_dir/train', seg_map_path='ann_dir/train'),
        pipeline=train_pipeline))
# the train loader's workers and data, one image at a time in order
val_dataloader = dict(
    train_dataloader,
    batch_size=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'],
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU', 'mDice'])
test_evaluator = val_evaluator
# model.test_cfg of the configs on this dataset (sliding window at the crop)
slide_test_cfg = dict(mode='slide', crop_size=crop_size, stride=slide_stride)
