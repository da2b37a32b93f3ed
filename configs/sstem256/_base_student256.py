# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# ./_base_sstem256.py (data, schedule, runtime) and what the plain models of
# the ssTEM study set beside their heads: no pretrained weights (from
# scratch), the crop as the batch shape, BN, the 5 classes in the heads, the
# sliding window at test, and the backbone and FCN auxiliary head of five of
# the six: a ResNetV1c-18 layout at base width 16 (stage channels 16, 32, 64,
# 128), the auxiliary head on stage 3 at 16 channels (UNet replaces the
# backbone, Semantic FPN has no auxiliary head). A plain config inherits
# MMSeg's model config and this file and takes the settings out of its bases,
# so that `student` is no key of its own config:
#   norm_cfg = dict(type='BN', requires_grad=True)  # MMSeg's: SyncBN
#   model = _base_.pop('student')
#   model.update(decode_head=dict(...), ...)
_base_ = './_base_sstem256.py'
student = dict(
    _scope_='mmseg',
    pretrained=None,
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=dict(depth=18, stem_channels=16, base_channels=16,
                  norm_cfg=dict(type='BN', requires_grad=True)),
    decode_head=dict(num_classes=_base_.num_classes,
                     norm_cfg=dict(type='BN', requires_grad=True)),
    auxiliary_head=dict(in_channels=64, channels=16,
                        num_classes=_base_.num_classes,
                        norm_cfg=dict(type='BN', requires_grad=True)),
    test_cfg=_base_.slide_test_cfg)
