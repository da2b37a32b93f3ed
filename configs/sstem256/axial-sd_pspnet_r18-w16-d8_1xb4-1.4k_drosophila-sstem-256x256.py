# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Axial self-distillation of the ssTEM study's PSPNet (`pspnet`, arm `sd`), as
# ./_base_axial_sd256.py sets it up: the axial block attends on the logits at
# 1/8 of the crop (32x32), so span 64 covers the training logits.
_base_ = ['./pspnet_r18-w16-d8_1xb4-1.4k_drosophila-sstem-256x256.py',
          './_base_axial_sd256.py']
model = dict(_base_.pop('axial_sd_model'), architecture=_base_.model)
# the arm's val and test loops (both outputs) and best checkpoints
_base_.update(_base_.pop('axial_sd_runtime'))
