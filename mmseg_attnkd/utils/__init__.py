# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Library helpers, one concept per subpackage.

* :mod:`.checkpoint` - weights-only loading, state-dict surgery, the one
  fsync'ed atomic save (also an MMEngine file backend);
* :mod:`.config` - teacher/student configs, SyncBN -> BN without CUDA,
  building models for inference;
* :mod:`.export` - distillation checkpoints as plain MMSeg models;
* :mod:`.distributed` - ending a multi-process run cleanly;
* :mod:`.nonfinite` - NaN/Inf losses and their error (hooks and models).

Command-line-only code (model-zoo tables, publishing) is in
:mod:`mmseg_attnkd.release`, which ``import mmseg_attnkd`` does not load.
"""
from .checkpoint import (TRUSTED_CHECKPOINT_GLOBALS, KeyReport,
                         UnsafeCheckpointError, atomic_write_bytes,
                         atomic_write_text, compare_keys, export_meta,
                         extract_student_state_dict, get_state_dict,
                         half_floats, load_checkpoint_safely,
                         load_segmentor_weights, make_plain_checkpoint,
                         save_checkpoint_atomic, select_prefix, strip_training_state,
                         student_state_dict_for)
from .config import (adapt_cfg_to_environment, build_distill_model,
                     build_segmentor, data_root_options,
                     get_student_model_cfg, get_teacher_and_student_cfgs,
                     get_teacher_model_cfg, is_distill_cfg, load_config,
                     replace_sync_bn, resolve_model_cfg, schedule_options,
                     skip_fitted_attention)
from .distributed import destroy_distributed, exit_after_distributed_run
from .export import (axial_refine_model_cfg, convert_axial_state_dict,
                     convert_kd_checkpoint_to_student, export_axial_refine)
from .nonfinite import nonfinite_losses, nonfinite_message

__all__ = [
    'adapt_cfg_to_environment', 'replace_sync_bn', 'destroy_distributed',
    'exit_after_distributed_run', 'load_checkpoint_safely',
    'TRUSTED_CHECKPOINT_GLOBALS', 'UnsafeCheckpointError', 'KeyReport',
    'compare_keys', 'extract_student_state_dict', 'get_state_dict',
    'make_plain_checkpoint', 'half_floats', 'save_checkpoint_atomic',
    'atomic_write_bytes',
    'atomic_write_text', 'select_prefix', 'strip_training_state',
    'export_meta', 'student_state_dict_for', 'load_segmentor_weights',
    'convert_kd_checkpoint_to_student', 'load_config', 'is_distill_cfg',
    'resolve_model_cfg', 'get_student_model_cfg', 'get_teacher_model_cfg',
    'get_teacher_and_student_cfgs',
    'build_segmentor', 'build_distill_model', 'skip_fitted_attention',
    'data_root_options', 'schedule_options',
    'axial_refine_model_cfg',
    'convert_axial_state_dict', 'export_axial_refine', 'nonfinite_losses',
    'nonfinite_message'
]
