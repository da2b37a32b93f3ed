# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Drosophila ssTEM, 5 classes, 1024x1024 8-bit sections (loaded as 3-channel
# grey). Split by section: 0-11 train, 12-15 val (choose here), 16-19 test
# (report once per finished run). Produce data_root with
#   python tools/dataset_converters/drosophila_sstem.py \
#       --data-root ../shared/data/drosophila_sstem \
#       --out-dir data/drosophila_sstem --split study
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)
dataset_type = 'DrosophilaSSTEMDataset'
data_root = 'data/drosophila_sstem'
img_scale = (1024, 1024)  # (W, H)
crop_size = (512, 512)  # (H, W)
# Test-time sliding window = the training crop, so the decode head (and the
# axial block of self-distillation, whose relative-position tables cover the
# training logit size) sees at test exactly the input size it trained on.
# Stride 2/3 of the crop (MMSeg's convention): 3x3 windows per section.
slide_stride = (341, 341)  # (H, W)
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
# the train loader's workers and data, one image at a time in order
val_dataloader = dict(
    train_dataloader,
    batch_size=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        train_dataloader['dataset'],
        data_prefix=dict(img_path='img_dir/val', seg_map_path='ann_dir/val'),
        pipeline=test_pipeline))
test_dataloader = dict(val_dataloader, dataset=dict(
    val_dataloader['dataset'],
    data_prefix=dict(img_path='img_dir/test', seg_map_path='ann_dir/test')))
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU', 'mDice'])
test_evaluator = val_evaluator
# model.test_cfg of the configs on this dataset (sliding window at the crop)
slide_test_cfg = dict(mode='slide', crop_size=crop_size, stride=slide_stride)
