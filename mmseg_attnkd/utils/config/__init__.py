# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Configs: find teacher and student, adapt to the machine, build models.

* :mod:`.resolve` - the student and teacher model configs of a plain or a
  distillation config (``cfg_path`` references resolved);
* :mod:`.environment` - SyncBN -> BN and gloo without CUDA;
* :mod:`.build` - segmentors (``mmseg.apis.init_model``) and distillation
  models for inference, weights checked;
* :mod:`.options` - ``--cfg-options`` of a short run (data root, schedule);
* :mod:`.runtime` - ``default_hooks`` of configs built in code;
* :mod:`.runner_cli` - the command line of ``tools/train.py`` and
  ``tools/test.py`` (imported by them only).
"""
from .build import (build_distill_model, build_segmentor,
                    skip_fitted_attention)
from .environment import (SYNC_BN_TYPES, adapt_cfg_to_environment,
                          replace_sync_bn)
from .options import data_root_options, schedule_options
from .resolve import (get_student_model_cfg, get_teacher_and_student_cfgs,
                      get_teacher_model_cfg, is_distill_cfg, load_config,
                      resolve_model_cfg)

__all__ = [
    'build_distill_model', 'build_segmentor', 'skip_fitted_attention',
    'SYNC_BN_TYPES', 'adapt_cfg_to_environment', 'replace_sync_bn',
    'get_student_model_cfg', 'get_teacher_model_cfg',
    'get_teacher_and_student_cfgs', 'is_distill_cfg',
    'load_config', 'resolve_model_cfg', 'data_root_options',
    'schedule_options'
]
