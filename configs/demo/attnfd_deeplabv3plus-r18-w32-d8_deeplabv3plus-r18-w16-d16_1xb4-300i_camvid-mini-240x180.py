# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Demo AttnFD: distil the w32 teacher into the w16 student with the paper's
# defaults (frozen teacher-side CBAM, per-channel L2, lambda = 2) at the three
# DeepLabV3+ stages. `make demo` passes the teacher it trained as teacher_ckpt.
_base_ = './_base_demo_models.py'
teacher_ckpt = 'work_dirs/demo/teacher/iter_300.pth'
model = dict(
    _scope_='mmrazor',
    type='SegSingleTeacherDistill',
    architecture={{_base_.student_model}},
    teacher={{_base_.teacher_model}},
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='AttnFDDistiller',
        stages='auto',
        teacher_attention='frozen',
        normalize='channel',
        loss_weight=2.0))
val_cfg = dict(_delete_=True, type='mmrazor.SingleTeacherDistillValLoop')
