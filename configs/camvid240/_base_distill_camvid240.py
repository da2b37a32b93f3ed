# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# A distillation of the protocol's student from its trained teacher; the
# leaf config sets the distiller.
_base_ = './_base_camvid240.py'
model = dict(
    _scope_='mmrazor',
    type='SegSingleTeacherDistill',
    architecture=_base_.student_model,
    teacher=_base_.teacher_model,
    teacher_ckpt=_base_.teacher_ckpt,
    distiller=dict())
