# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# DIST on the logits (configs/_base_/distillers/dist.py), the loss wrapped
# in ResizedStudentLoss as the protocol's MMRazor-loss arms are.
_base_ = ['./_base_distill_camvid240.py', '../_base_/distillers/dist.py']
# (the base's _delete_ replaces the empty distiller of the skeleton)
model = dict(distiller=dict(
    _base_.dist_distiller,
    loss=dict(type='ResizedStudentLoss', loss=_base_.dist_distiller.loss)))
