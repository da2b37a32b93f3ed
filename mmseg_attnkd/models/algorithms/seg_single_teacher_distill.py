# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""``SingleTeacherDistill`` that validates its setup before training."""
import contextlib
from typing import Dict, Iterator, Optional, Union

from mmengine.model import BaseModel
from mmrazor.models.algorithms import SingleTeacherDistill
from mmrazor.registry import MODELS

from .architecture_cfg import build_distill_models
from .distill_checks import (check_logit_classes, check_recorder_sources,
                             load_teacher_weights)
from .nonfinite_loss_guard import NonFiniteLossGuardMixin

__all__ = ['SegSingleTeacherDistill', 'teacher_features_only']


@contextlib.contextmanager
def teacher_features_only(teacher: BaseModel) -> Iterator[None]:
    """Run ``teacher(..., mode='loss')`` as ``mode='tensor'`` while active.

    MMRazor's ``SingleTeacherDistill.loss`` calls a frozen teacher in loss
    mode only so that its recorders fire; for an MMSeg segmentor that also
    runs the auxiliary heads and every loss, whose results are thrown away.
    ``mode='tensor'`` runs backbone, neck and decode head only.
    """
    forward = teacher.forward

    def features(inputs, data_samples=None, mode='tensor'):
        return forward(inputs, data_samples,
                       'tensor' if mode == 'loss' else mode)

    teacher.forward = features
    try:
        yield
    finally:
        del teacher.forward


@MODELS.register_module()
class SegSingleTeacherDistill(NonFiniteLossGuardMixin, SingleTeacherDistill):
    """MMRazor's ``SingleTeacherDistill`` with build-time checks.

    Behaves like ``SingleTeacherDistill`` (same arguments, same checkpoint
    keys ``architecture.*``, ``teacher.*``, ``distiller.*``), except that a
    frozen teacher runs entirely in eval mode (dropout off, not only BN),
    and additionally, while the model is built (before any training step):

    * every ``ModuleOutputs``/``ModuleInputs``/``Parameter`` recorder source
      of a config-defined distiller must exist in its model; the error lists
      the closest names (MMRazor only asserts ``"x" is not in the model``);
    * a loss that compares student and teacher logits (``conv_seg`` or a
      decode head, no connector) needs equal class counts;
    * ``teacher_ckpt`` is loaded weights-only with
      :func:`~mmseg_attnkd.utils.load_checkpoint_safely`: a missing, empty,
      truncated or unsafe file, any shape mismatch, or more than
      ``teacher_ckpt_max_missing`` of the teacher's keys missing stops the
      build with counts and first keys (MMRazor/MMEngine load with
      ``strict=False`` and only log);

    and, with ``nonfinite_loss`` set, every loss is checked for NaN/Inf
    before the update (:class:`NonFiniteLossGuardMixin`; without it,
    ``NonFiniteLossHook`` in the config checks after the step).

    Args:
        architecture: Student config or model.
        teacher: Teacher config or model.
        distiller: Distiller config (e.g. ``ConfigurableDistiller``,
            ``AttnFDDistiller``).
        teacher_ckpt: Local path of the trained teacher. Defaults to None.
        teacher_ckpt_max_missing: Largest accepted fraction of teacher
            weights absent from ``teacher_ckpt``. Defaults to 0.1.
        teacher_features_only: Run the frozen teacher without its auxiliary
            heads and losses when no teacher recorder needs them (see
            :func:`teacher_features_only`). Defaults to True.
        nonfinite_loss: None (default), ``'raise'`` or ``'skip'``.
        **kwargs: Other ``SingleTeacherDistill`` arguments
            (``teacher_trainable``, ``teacher_norm_eval``,
            ``calculate_student_loss``, ``data_preprocessor``, ...).
    """

    def __init__(self,
                 architecture: Union[BaseModel, Dict],
                 teacher: Union[BaseModel, Dict],
                 distiller: Dict,
                 teacher_ckpt: Optional[str] = None,
                 teacher_ckpt_max_missing: float = 0.1,
                 nonfinite_loss: Optional[str] = None,
                 teacher_features_only: bool = True,
                 **kwargs) -> None:
        self._init_nonfinite_guard(nonfinite_loss)
        if not isinstance(distiller, dict):
            raise TypeError(
                'SegSingleTeacherDistill: distiller must be a config dict, '
                f'got {type(distiller).__name__}.')
        architecture, teacher = build_distill_models(
            architecture, teacher, kwargs, type(self).__name__)
        if isinstance(architecture, dict):
            architecture = MODELS.build(architecture)
        if isinstance(teacher, dict):
            teacher = MODELS.build(teacher)
        check_recorder_sources(
            distiller.get('student_recorders'), architecture, 'student')
        check_recorder_sources(
            distiller.get('teacher_recorders'), teacher, 'teacher')
        check_logit_classes(distiller, architecture, teacher)
        self.teacher_ckpt_report = None
        if teacher_ckpt:
            report = load_teacher_weights(teacher, teacher_ckpt,
                                          teacher_ckpt_max_missing)
        super().__init__(
            architecture=architecture,
            teacher=teacher,
            distiller=distiller,
            teacher_ckpt=None,
            **kwargs)
        if teacher_ckpt:
            self.teacher_ckpt_report = report
            # keep the loaded weights through Runner's init_weights()
            self.teacher._is_init = True
        self.teacher_features_only = bool(teacher_features_only) and \
            self._records_features_only()

    def _records_features_only(self) -> bool:
        """Whether every teacher record comes from backbone/neck/decode
        head features (not the auxiliary heads or a loss module)."""
        if self.teacher_trainable or not hasattr(self.teacher, '_forward'):
            return False
        if getattr(self.distiller, 'deliveries', None) is not None and \
                len(getattr(self.distiller.deliveries, 'deliveries', {})):
            return False
        manager = getattr(self.distiller, 'teacher_recorders', None)
        recorders = getattr(manager, 'recorders', {}) or {}
        for recorder in recorders.values():
            source = str(getattr(recorder, 'source', ''))
            if source.startswith('auxiliary_head') or 'loss' in source:
                return False
        return True

    def loss(self, batch_inputs, data_samples=None):
        """MMRazor's distillation loss; the frozen teacher runs features
        only when its records allow it (``teacher_features_only``)."""
        if not self.teacher_features_only:
            return super().loss(batch_inputs, data_samples)
        with teacher_features_only(self.teacher):
            return super().loss(batch_inputs, data_samples)

    def train(self, mode: bool = True) -> 'SegSingleTeacherDistill':
        """Switch the student's mode; keep a frozen teacher in eval mode.

        MMRazor's ``SingleTeacherDistill`` only puts the teacher's BN layers
        in eval mode, so its dropout stays active and the recorded teacher
        features are noisy. A frozen teacher (``teacher_trainable=False``)
        is a fixed function here: every layer runs in eval mode.
        """
        super().train(mode)
        if mode and not self.teacher_trainable:
            self.teacher.eval()
        return self
