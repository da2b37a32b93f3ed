# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Demo AttnFD: distil the committed w32 teacher (output stride 8, trained on
# the full CamVid train split) into the w16 student at the three DeepLabV3+
# stages, with the package's AttnFD defaults (AttnFDDistiller's arguments):
# teacher attention fitted on this teacher by the CamVid protocol (see
# demo/checkpoints/README.md), tensor normalisation, weight 8.
_base_ = './_base_demo_models.py'
teacher_ckpt = \
    'demo/checkpoints/camvid240_deeplabv3plus-r18-w32-d8_teacher.pth'
teacher_attention_ckpt = \
    'demo/checkpoints/camvid240_deeplabv3plus-r18-w32-d8_teacher_attention.pth'
model = dict(
    _scope_='mmrazor',
    type='SegSingleTeacherDistill',
    architecture={{_base_.student_model}},
    teacher={{_base_.teacher_model}},
    teacher_ckpt=teacher_ckpt,
    distiller=dict(type='AttnFDDistiller', stages='auto',
                   teacher_attention_ckpt=teacher_attention_ckpt))
val_cfg = dict(_delete_=True, type='mmrazor.SingleTeacherDistillValLoop')
