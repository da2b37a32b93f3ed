# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Axial self-distillation in MMRazor's self-distillation algorithm:
# CE(student) + CE(axial teacher) + MSE(student, teacher). A config inherits
# this beside its student baseline and fills in the student:
#   model = dict(_base_.axial_sd_model, architecture=_base_.model)
# Every AxialSelfDistiller option left out takes the package default: the
# head 'decode_head', teacher_ce=DecodeHeadLoss (weight 1) and the
# AxialConnector defaults (64 channels, 8 heads, span=64: exact relative
# encodings on logits of up to 64 per side, 1/8 of a 512 crop).
# The consistency term is axial SD v2's: a KL at tau 2 from the detached
# teacher output to the student output, which won the axial SD candidates of
# the CamVid v2 study on val (bench/README.md §7); the method's MSE of
# probabilities is mse=dict(type='SelfDistillMSELoss', target='prob').
axial_sd_model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='SegSelfDistill',
    distiller=dict(
        type='AxialSelfDistiller',
        axial=dict(),
        mse=dict(type='SelfDistillKLLoss', tau=2.0)))

# Validate both outputs: the student under MMSeg's keys (mIoU, ...), the axial
# teacher output under teacher_output.* (same inference), and keep the best
# checkpoint of each:
#   val_cfg = _base_.axial_sd_val_cfg
#   default_hooks = _base_.axial_sd_default_hooks
axial_sd_val_cfg = dict(type='mmrazor.SegSelfDistillValLoop')
axial_sd_default_hooks = dict(
    checkpoint=dict(
        save_best=['mIoU', 'teacher_output.mIoU'], rule='greater'))
