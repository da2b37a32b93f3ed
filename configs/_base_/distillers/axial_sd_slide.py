# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Axial self-distillation (./axial_sd.py) on a dataset scored with the
# sliding window at the crop (Drosophila ssTEM, MedSeg COVID-19 CT): a config
# also validates both outputs (the same inference) and keeps the best
# checkpoint of each. It inherits this beside its student baseline:
#   model = dict(_base_.axial_sd_model, architecture=_base_.model)
#   _base_.update(_base_.pop('axial_sd_slide_runtime'))
# (popped, so that the helper is no key of its own config).
_base_ = './axial_sd.py'
axial_sd_slide_runtime = dict(
    val_cfg=_base_.axial_sd_val_cfg,
    default_hooks=_base_.axial_sd_default_hooks)
