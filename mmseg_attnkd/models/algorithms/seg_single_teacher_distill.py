# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""``SingleTeacherDistill`` that validates its setup before training."""
from typing import Dict, Optional, Union

from mmengine.model import BaseModel
from mmrazor.models.algorithms import SingleTeacherDistill
from mmrazor.registry import MODELS

from mmseg_attnkd.utils.precision import (AUTO, check_precision,
                                          resolve_precision)
from .architecture_cfg import build_distill_models, seg_distiller_cfg
from .distill_checks import (check_logit_classes, check_recorder_sources,
                             load_teacher_weights)
from .frozen_teacher import frozen_teacher_pass, set_teacher_norm_batch_stats
from .nonfinite_loss_guard import NonFiniteLossGuardMixin

__all__ = ['SegSingleTeacherDistill']


@MODELS.register_module()
class SegSingleTeacherDistill(NonFiniteLossGuardMixin, SingleTeacherDistill):
    """MMRazor's ``SingleTeacherDistill`` with build-time checks.

    Behaves like ``SingleTeacherDistill`` (same arguments, same checkpoint
    keys ``architecture.*``, ``teacher.*``, ``distiller.*``), except that a
    frozen teacher runs entirely in eval mode (dropout off, not only BN;
    ``teacher_norm_eval=False`` keeps its BN on batch statistics), can run
    in reduced precision (``teacher_precision``),
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
            :func:`~.frozen_teacher.frozen_teacher_pass`). Defaults to True.
        teacher_precision: ``'fp32'`` (default), ``'bf16'`` or ``'fp16'``:
            the frozen teacher's forward runs under ``torch.autocast`` of
            that dtype on its device, and its records are cast back to fp32
            before any connector or loss (teacher-given cost; see
            ``bench/README.md`` for the measured speed and accuracy).
            ``'auto'``: bf16 where it was measured faster at an unchanged
            accuracy (a CPU with native bf16, frozen teacher, no
            deliveries), fp32 elsewhere
            (:func:`~mmseg_attnkd.utils.precision.resolve_precision`).
        teacher_norm_eval: MMRazor's option. True (default): the frozen
            teacher's BN uses its running statistics. False: batch
            statistics, running statistics left as trained
            (:func:`~.frozen_teacher.set_teacher_norm_batch_stats`).
        nonfinite_loss: None (default), ``'raise'`` or ``'skip'``.
        **kwargs: Other ``SingleTeacherDistill`` arguments
            (``teacher_trainable``,
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
                 teacher_precision: str = 'fp32',
                 **kwargs) -> None:
        self.teacher_precision = check_precision(
            teacher_precision, type(self).__name__, 'teacher_precision',
            allow_auto=True)
        self._init_nonfinite_guard(nonfinite_loss)
        if not isinstance(distiller, dict):
            raise TypeError(
                'SegSingleTeacherDistill: distiller must be a config dict, '
                f'got {type(distiller).__name__}.')
        distiller = seg_distiller_cfg(distiller)
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
        self._check_teacher_precision()

    def _check_teacher_precision(self) -> None:
        """Reduced precision is for a frozen teacher whose records are all
        recorder outputs (a delivery would hand its low-precision values to
        the student's own forward; ``'auto'`` then means fp32)."""
        if self.teacher_precision in ('fp32', AUTO):
            return
        owner = type(self).__name__
        if self.teacher_trainable:
            raise ValueError(
                f'{owner}: teacher_precision={self.teacher_precision!r} '
                'needs a frozen teacher; set teacher_trainable=False or '
                "teacher_precision='fp32' (train a teacher with --amp).")
        if self._has_deliveries():
            raise ValueError(
                f'{owner}: teacher_precision={self.teacher_precision!r} '
                'cannot be combined with distill_deliveries; use '
                "teacher_precision='fp32'.")

    def _has_deliveries(self) -> bool:
        deliveries = getattr(self.distiller, 'deliveries', None)
        return deliveries is not None and \
            len(getattr(deliveries, 'deliveries', {})) > 0

    def pass_precision(self) -> str:
        """The teacher forward's precision for this step: ``'auto'``
        resolved on the teacher's device, fp32 where reduced precision does
        not apply (a trainable teacher or deliveries)."""
        if self.teacher_precision != AUTO:
            return self.teacher_precision
        if self.teacher_trainable or self._has_deliveries():
            return 'fp32'
        param = next(self.teacher.parameters(), None)
        return resolve_precision(
            AUTO, param.device if param is not None else 'cpu')

    def _records_features_only(self) -> bool:
        """Whether every teacher record comes from backbone/neck/decode
        head features (not the auxiliary heads or a loss module)."""
        if self.teacher_trainable or not hasattr(self.teacher, '_forward'):
            return False
        if self._has_deliveries():
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
        only when its records allow it (``teacher_features_only``) and in
        ``teacher_precision`` (:meth:`pass_precision`)."""
        precision = self.pass_precision()
        if self.teacher_trainable or (not self.teacher_features_only and
                                      precision == 'fp32'):
            return super().loss(batch_inputs, data_samples)
        manager = getattr(self.distiller, 'teacher_recorders', None)
        recorders = (getattr(manager, 'recorders', None) or {}).values()
        with frozen_teacher_pass(self.teacher, self.teacher_features_only,
                                 precision, recorders):
            return super().loss(batch_inputs, data_samples)

    def train(self, mode: bool = True) -> 'SegSingleTeacherDistill':
        """Switch the student's mode; keep a frozen teacher in eval mode.

        MMRazor's ``SingleTeacherDistill`` only puts the teacher's BN layers
        in eval mode, so its dropout stays active and the recorded teacher
        features are noisy. A frozen teacher (``teacher_trainable=False``)
        is a fixed function here: every layer runs in eval mode, except BN
        with ``teacher_norm_eval=False``, which then runs on batch statistics
        without updating the stored ones.
        """
        super().train(mode)
        if mode and not self.teacher_trainable:
            self.teacher.eval()
            if not self.teacher_norm_eval:
                set_teacher_norm_batch_stats(self.teacher)
        return self
