# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Axial self-distillation of the ssTEM study's UNet (`unet`, arm `sd`), as
# ./_base_axial_sd256.py sets it up but for the axial block's stride.
_base_ = ['./unet-s5-d16-w8_fcn_1xb4-1.4k_drosophila-sstem-256x256.py',
          './_base_axial_sd256.py']
model = dict(_base_.pop('axial_sd_model'), architecture=_base_.model)
# the full-resolution logits (256x256) pooled 4x: a 64x64 grid, so span 64
# covers the training logits
model['distiller'] = dict(model['distiller'], axial=dict(stride=4, span=64))
# the arm's val and test loops (both outputs) and best checkpoints
_base_.update(_base_.pop('axial_sd_runtime'))
