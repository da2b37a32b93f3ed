# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# UNet-S5-D16 + FCN on CamVid (11 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_unet-s5-d16_fcn_1xb2-20k_camvid-360x480.py
_base_ = [
    'mmseg::_base_/models/fcn_unet_s5-d16.py',
    '../_base_/datasets/camvid.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_20k.py'
]
num_classes = 11
model = dict(
    # UNet needs sides divisible by 16 (CamVid is 360 high)
    data_preprocessor=dict(size_divisor=16, test_cfg=dict(size_divisor=16)),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes),
    test_cfg=dict(_delete_=True, mode='whole'))

# crash-safe checkpoints (write, then rename), a crop-size pre-flight check,
# a stop at the first NaN loss and exact resumes (random states saved)
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
custom_hooks = [dict(type='CropSizeCheckHook'),
                dict(type='NonFiniteLossHook'),
                dict(type='RandomStateHook')]
