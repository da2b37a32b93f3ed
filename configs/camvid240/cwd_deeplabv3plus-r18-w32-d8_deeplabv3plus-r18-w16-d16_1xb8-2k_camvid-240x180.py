# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# CWD on the logits (MMRazor's recipe: tau 1, weight 5), as the protocol ran
# it: MMRazor's ConfigurableDistiller with one logit recorder per side.
_base_ = './_base_distill_camvid240.py'
logits = dict(logits=dict(type='ModuleOutputs', source='decode_head.conv_seg'))
model = dict(distiller=dict(
    type='ConfigurableDistiller',
    student_recorders=logits,
    teacher_recorders=logits,
    distill_losses=dict(
        loss_cwd=dict(type='ChannelWiseDivergence', tau=1, loss_weight=5)),
    loss_forward_mappings=dict(loss_cwd=dict(
        preds_S=dict(from_student=True, recorder='logits'),
        preds_T=dict(from_student=False, recorder='logits')))))
