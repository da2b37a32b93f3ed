# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Axial self-distillation of the ssTEM study's UPerNet (`upernet`, arm `sd`):
# CE(student) + CE(axial teacher) + MSE(student, teacher), the losses at the
# package defaults. The axial block attends on the logits at 1/4 of the crop
# (64x64), so span 64 covers the training logits. The val and test loops score
# the student output (mIoU) and the axial teacher output (teacher_output.mIoU);
# the best checkpoint of each is kept.
_base_ = './upernet_r18-w16_1xb4-1.4k_drosophila-sstem-256x256.py'
model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='SegSelfDistill',
    architecture=_base_.model,
    distiller=dict(type='AxialSelfDistiller',
                   axial=dict(stride=1, span=64)))
val_cfg = dict(_delete_=True, type='mmrazor.SegSelfDistillValLoop')
test_cfg = dict(_delete_=True, type='mmrazor.SegSelfDistillTestLoop')
default_hooks = dict(
    checkpoint=dict(save_best=['mIoU', 'teacher_output.mIoU']))
