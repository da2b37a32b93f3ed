# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Axial self-distillation of UNet-S5-D16 + FCN on Drosophila ssTEM:
# CE(student) + CE(axial teacher) + MSE(student, teacher).
_base_ = ['../baselines/unet-s5-d16_fcn_1xb2-20k_drosophila-sstem-512x512.py']
custom_imports = dict(
    imports=['mmseg_attnkd'], allow_failed_imports=False)
model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='SegSelfDistill',
    architecture=_base_.model,
    # full-resolution logits, attention on a 1/4 grid
    distiller=dict(type='AxialSelfDistiller', axial=dict(span=128, stride=4)))

# Validate both outputs: the student under MMSeg's keys (mIoU, ...), the axial
# teacher output under teacher_output.* (same sliding-window inference), and
# keep the best checkpoint of each.
val_cfg = dict(type='mmrazor.SegSelfDistillValLoop')
default_hooks = dict(
    checkpoint=dict(
        save_best=['mIoU', 'teacher_output.mIoU'], rule='greater'))
