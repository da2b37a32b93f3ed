# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The ssTEM study's UPerNet (`upernet`, plain): MMSeg's UPerNet with a
# ResNetV1c-18 layout at base width 16 (stage channels 16, 32, 64, 128,
# output stride 32), UPer head 64 channels (logits at 1/4), FCN auxiliary
# head 16; BN, from scratch, sliding-window test at the crop.
_base_ = ['mmseg::_base_/models/upernet_r50.py', './_base_sstem256.py']
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    _scope_='mmseg',
    pretrained=None,
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=dict(depth=18, stem_channels=16, base_channels=16,
                  norm_cfg=norm_cfg),
    decode_head=dict(in_channels=[16, 32, 64, 128], channels=64,
                     num_classes=_base_.num_classes, norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=64, channels=16,
                        num_classes=_base_.num_classes, norm_cfg=norm_cfg),
    test_cfg=_base_.slide_test_cfg)
