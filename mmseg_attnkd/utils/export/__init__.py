# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Distillation checkpoints as plain MMSeg models.

* :mod:`.student` - the student of any distillation checkpoint;
* :mod:`.axial` - the teacher output of axial self-distillation as an
  ``AxialRefineHead`` model (checkpoint and config).
"""
from .axial import (AXIAL_CONNECTOR_ONLY_KEYS, axial_refine_model_cfg,
                    convert_axial_state_dict, export_axial_refine)
from .student import convert_kd_checkpoint_to_student

__all__ = [
    'AXIAL_CONNECTOR_ONLY_KEYS', 'axial_refine_model_cfg',
    'convert_axial_state_dict', 'export_axial_refine',
    'convert_kd_checkpoint_to_student'
]
