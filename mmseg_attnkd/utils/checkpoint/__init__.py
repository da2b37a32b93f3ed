# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Checkpoints in one place: safe loading, state-dict surgery, atomic save.

* :mod:`.loading` - weights-only loading with errors that name the fix,
  checked loading into a model;
* :mod:`.state_dict` - select, rename and compare weights of distillation
  checkpoints, plain checkpoint dicts;
* :mod:`.atomic` - the one fsync'ed atomic write used by the checkpoint hook,
  the exporters and publishing (also as an MMEngine file backend).
"""
from .atomic import (ATOMIC_BACKEND, PARTIAL_SUFFIX, AtomicLocalBackend,
                     atomic_write_bytes, atomic_write_text, fsync_path,
                     partial_path, save_checkpoint_atomic)
from .loading import (TRUSTED_CHECKPOINT_GLOBALS, UnsafeCheckpointError,
                      load_checkpoint_safely, load_segmentor_weights)
from .state_dict import (KEPT_META_KEYS, STUDENT_PREFIX, TRAINING_STATE_KEYS,
                         KeyReport, compare_keys, export_meta,
                         extract_student_state_dict, get_state_dict,
                         half_floats, make_plain_checkpoint, select_prefix,
                         strip_training_state, student_state_dict_for)

__all__ = [
    'ATOMIC_BACKEND', 'PARTIAL_SUFFIX', 'AtomicLocalBackend',
    'atomic_write_bytes', 'atomic_write_text', 'fsync_path', 'partial_path',
    'save_checkpoint_atomic', 'TRUSTED_CHECKPOINT_GLOBALS',
    'UnsafeCheckpointError', 'load_checkpoint_safely',
    'load_segmentor_weights', 'KEPT_META_KEYS', 'STUDENT_PREFIX',
    'TRAINING_STATE_KEYS', 'KeyReport', 'compare_keys', 'export_meta',
    'extract_student_state_dict', 'get_state_dict', 'make_plain_checkpoint',
    'half_floats', 'select_prefix', 'strip_training_state', 'student_state_dict_for'
]
