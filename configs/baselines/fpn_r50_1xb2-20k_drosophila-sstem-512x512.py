# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Semantic FPN R-50 on Drosophila ssTEM (5 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_fpn_r50_1xb2-20k_drosophila-sstem-512x512.py
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    '../_base_/studies/drosophila_sstem_20k.py'
]
model = _base_.pop('student')
model.pop('auxiliary_head')  # Semantic FPN has no auxiliary head
