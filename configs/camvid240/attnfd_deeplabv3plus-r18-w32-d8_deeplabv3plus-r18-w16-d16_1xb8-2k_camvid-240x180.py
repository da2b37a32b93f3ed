# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AttnFD with the package defaults (stages 'auto', fitted teacher attention,
# tensor normalisation, lambda 8). Fit the teacher attention once:
#   python tools/fit_teacher_attention.py CONFIG
# (it writes the fit where AttnFD reads it, keyed by teacher and stages)
_base_ = './_base_distill_camvid240.py'
model = dict(distiller=dict(type='AttnFDDistiller'))
