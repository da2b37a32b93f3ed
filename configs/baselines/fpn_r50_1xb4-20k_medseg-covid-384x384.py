# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Semantic FPN R-50 on MedSeg COVID-19 CT (4 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_fpn_r50_1xb4-20k_medseg-covid-384x384.py
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    '../_base_/studies/medseg_covid_20k.py'
]
model = _base_.pop('student')
model.pop('auxiliary_head')  # Semantic FPN has no auxiliary head
