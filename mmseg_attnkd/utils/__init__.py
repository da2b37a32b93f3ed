# Copyright (c) mmseg-attnkd contributors. All rights reserved.
from .axial_export import (axial_refine_model_cfg, convert_axial_state_dict,
                           export_axial_refine)
from .checkpoint import (TRUSTED_CHECKPOINT_GLOBALS, UnsafeCheckpointError,
                         load_checkpoint_safely)
from .distill_cfg import (build_distill_model, build_segmentor,
                          get_student_model_cfg,
                          get_teacher_model_cfg, is_distill_cfg, load_config,
                          resolve_model_cfg)
from .env import (adapt_cfg_to_environment, destroy_distributed,
                  exit_after_distributed_run)
from .kd_checkpoint import (KeyReport, compare_keys,
                            convert_kd_checkpoint_to_student, export_meta,
                            extract_student_state_dict, get_state_dict,
                            load_segmentor_weights, make_plain_checkpoint,
                            save_checkpoint_atomic, select_prefix,
                            strip_training_state, student_state_dict_for)

__all__ = [
    'adapt_cfg_to_environment', 'destroy_distributed',
    'exit_after_distributed_run', 'load_checkpoint_safely',
    'TRUSTED_CHECKPOINT_GLOBALS', 'UnsafeCheckpointError', 'KeyReport',
    'compare_keys', 'extract_student_state_dict', 'get_state_dict',
    'make_plain_checkpoint', 'save_checkpoint_atomic', 'select_prefix',
    'strip_training_state', 'export_meta', 'student_state_dict_for',
    'load_segmentor_weights', 'convert_kd_checkpoint_to_student',
    'load_config', 'is_distill_cfg', 'resolve_model_cfg',
    'get_student_model_cfg', 'get_teacher_model_cfg', 'build_segmentor',
    'build_distill_model', 'axial_refine_model_cfg',
    'convert_axial_state_dict', 'export_axial_refine'
]
