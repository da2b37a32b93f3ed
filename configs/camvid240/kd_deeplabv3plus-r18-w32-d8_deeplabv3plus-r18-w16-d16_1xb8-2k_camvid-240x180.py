# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Logit KD: the per-pixel KL divergence (tau 1, weight 1 x 11 classes, as
# reduction='mean' also averages over the classes), the CWD config's
# recorders and mapping.
_base_ = './cwd_deeplabv3plus-r18-w32-d8_deeplabv3plus-r18-w16-d16_1xb8-2k_camvid-240x180.py'  # noqa: E501
model = dict(distiller=dict(
    distill_losses=dict(_delete_=True, loss_kd=dict(
        type='KLDivergence', tau=1.0, loss_weight=11.0, reduction='mean')),
    loss_forward_mappings=dict(_delete_=True, loss_kd=dict(
        preds_S=dict(from_student=True, recorder='logits'),
        preds_T=dict(from_student=False, recorder='logits')))))
