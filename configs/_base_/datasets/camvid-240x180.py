# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# CamVid at half resolution (240x180) for CPU benchmarks. Works on full-res
# data (resized on the fly) or on data converted with --scale 0.5, e.g. the
# bundled demo sample: data_root = 'demo/camvid_mini'.
_base_ = './camvid.py'
img_scale = (240, 180)  # (W, H)
crop_size = (180, 240)  # (H, W)
# camvid.py's pipelines at this scale and crop
train_pipeline = [
    dict(step, scale=img_scale) if step.type == 'RandomResize' else
    dict(step, crop_size=crop_size) if step.type == 'RandomCrop' else step
    for step in _base_.train_pipeline
]
test_pipeline = [
    dict(step, scale=img_scale) if step.type == 'Resize' else step
    for step in _base_.test_pipeline
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
