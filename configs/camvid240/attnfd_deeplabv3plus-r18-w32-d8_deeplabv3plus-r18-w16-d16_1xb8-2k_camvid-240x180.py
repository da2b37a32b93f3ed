# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AttnFD with the package defaults (stages 'auto', fitted teacher attention,
# tensor normalisation, lambda 8). Fit the teacher attention once:
#   python tools/fit_teacher_attention.py CONFIG   (writes the file below)
_base_ = './_base_distill_camvid240.py'
model = dict(distiller=dict(
    type='AttnFDDistiller',
    teacher_attention_ckpt='work_dirs/fit_teacher_attention/'
    '{{ fileBasenameNoExtension }}/teacher_attention.pth'))
