# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# UPerNet R-50 on MedSeg COVID-19 CT (4 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_upernet_r50_1xb4-20k_medseg-covid-384x384.py
_base_ = [
    'mmseg::_base_/models/upernet_r50.py',
    '../_base_/studies/medseg_covid_20k.py'
]
model = _base_.pop('student')
