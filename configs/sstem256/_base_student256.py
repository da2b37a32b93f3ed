# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# ./_base_sstem256.py (data, schedule, runtime) and what every plain model of
# the ssTEM study sets beside its layout: no pretrained weights (from
# scratch), the crop as the batch shape, BN, the 5 classes in the heads and
# the sliding window at test. A plain config inherits MMSeg's model config and
# this file and takes the settings out of its bases, so that `student` is no
# key of its own config:
#   norm_cfg = dict(type='BN', requires_grad=True)  # MMSeg's: SyncBN
#   model = _base_.pop('student')
#   model.update(backbone=dict(...), decode_head=dict(...), ...)
_base_ = './_base_sstem256.py'
student = dict(
    _scope_='mmseg',
    pretrained=None,
    data_preprocessor=dict(size=_base_.crop_size),
    backbone=dict(norm_cfg=dict(type='BN', requires_grad=True)),
    decode_head=dict(num_classes=_base_.num_classes,
                     norm_cfg=dict(type='BN', requires_grad=True)),
    auxiliary_head=dict(num_classes=_base_.num_classes,
                        norm_cfg=dict(type='BN', requires_grad=True)),
    test_cfg=_base_.slide_test_cfg)
