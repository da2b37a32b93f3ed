# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# UNet-S5-D16 + FCN on Drosophila ssTEM (5 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_unet-s5-d16_fcn_1xb2-20k_drosophila-sstem-512x512.py
_base_ = [
    'mmseg::_base_/models/fcn_unet_s5-d16.py',
    '../_base_/datasets/drosophila_sstem.py',
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_20k.py'
]
num_classes = 5
model = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes),
    test_cfg=_base_.slide_test_cfg)

# crash-safe checkpoints (write, then rename), a crop-size pre-flight check,
# a stop at the first NaN loss and exact resumes (random states saved)
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
custom_hooks = [dict(type='CropSizeCheckHook'),
                dict(type='NonFiniteLossHook'),
                dict(type='RandomStateHook')]
