# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Axial self-distillation of UPerNet R-50 on Drosophila ssTEM:
# CE(student) + CE(axial teacher) + MSE(student, teacher).
_base_ = ['../baselines/upernet_r50_1xb2-20k_drosophila-sstem-512x512.py']
custom_imports = dict(
    imports=['mmseg_attnkd'], allow_failed_imports=False)
model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='SegSelfDistill',
    architecture=_base_.model,
    # logits at 1/4 of the crop: at most 128 per side
    distiller=dict(type='AxialSelfDistiller', axial=dict(span=128)))

# Validate both outputs: the student under MMSeg's keys (mIoU, ...), the axial
# teacher output under teacher_output.* (same sliding-window inference), and
# keep the best checkpoint of each.
val_cfg = dict(type='mmrazor.SegSelfDistillValLoop')
default_hooks = dict(
    checkpoint=dict(
        save_best=['mIoU', 'teacher_output.mIoU'], rule='greater'))
