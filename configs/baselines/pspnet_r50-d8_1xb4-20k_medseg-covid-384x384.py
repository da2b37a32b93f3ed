# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# PSPNet R-50-D8 on MedSeg COVID-19 CT (4 classes): the baseline (student
# architecture) of
# ../axial_sd/axial-sd_pspnet_r50-d8_1xb4-20k_medseg-covid-384x384.py
_base_ = [
    'mmseg::_base_/models/pspnet_r50-d8.py',
    '../_base_/studies/medseg_covid_20k.py'
]
model = _base_.pop('student')
