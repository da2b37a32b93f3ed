# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The `sd` arm of the ssTEM study: axial self-distillation of a plain model
# of this folder, CE(student) + CE(axial teacher) + MSE(student, teacher),
# the losses at the package defaults. An axial-sd_* config inherits its plain
# config and this file, wraps the plain model and takes the arm's runtime:
#   model = dict(_base_.pop('axial_sd_model'), architecture=_base_.model)
#   _base_.update(_base_.pop('axial_sd_runtime'))
# (popped, so that neither key is one of its own). The axial block attends
# on the logits; span 64 covers training logits of up to 64 per side (a
# model with larger logits pools them, axial stride > 1).
axial_sd_model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='SegSelfDistill',
    distiller=dict(type='AxialSelfDistiller',
                   axial=dict(stride=1, span=64)))
# The val and test loops score the student output (mIoU) and the axial
# teacher output (teacher_output.mIoU); the best checkpoint of each is kept.
axial_sd_runtime = dict(
    val_cfg=dict(type='mmrazor.SegSelfDistillValLoop'),
    test_cfg=dict(type='mmrazor.SegSelfDistillTestLoop'),
    default_hooks=dict(
        checkpoint=dict(save_best=['mIoU', 'teacher_output.mIoU'])))
