# Copyright (c) mmseg-attnkd contributors. All rights reserved.
from .architecture_cfg import (build_distill_models, own_data_preprocessor,
                               with_default_scope)
from .distill_checks import (check_logit_classes, check_recorder_sources,
                             load_teacher_weights)
from .ema_self_teacher import EMASelfTeacher
from .nonfinite_loss_guard import NonFiniteLossGuardMixin, trainable_zero
from .seg_self_distill import SegSelfDistill
from .seg_single_teacher_distill import SegSingleTeacherDistill
from .teacher_attention_fitter import TeacherAttentionFitter

__all__ = [
    'SegSingleTeacherDistill', 'SegSelfDistill', 'NonFiniteLossGuardMixin',
    'check_recorder_sources', 'check_logit_classes', 'load_teacher_weights',
    'trainable_zero', 'TeacherAttentionFitter', 'EMASelfTeacher',
    'build_distill_models', 'own_data_preprocessor', 'with_default_scope'
]
