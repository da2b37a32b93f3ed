# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""AttnFD: the stage distiller with CBAM connectors and the AttnFD loss.

Reference:
    Mansourian, Jalali, Ahmadi, Kasaei. "Attention-guided Feature
    Distillation for Semantic Segmentation", arXiv 2403.05451.
    Woo et al. "CBAM: Convolutional Block Attention Module", ECCV 2018.
"""
from typing import Any, Dict, List, Optional, Tuple, Union

import torch.nn as nn
from mmrazor.registry import MODELS

from ..attention.cbam import CBAM
from ..losses.attnfd_loss import AttnFDLoss
from .fused_stage_losses import FusedStageLossMixin
from .shape_probe import probe_channels
from .stage_distiller import StageDistiller
from .stage_specs import AUTO_PRESETS, StageSpec, auto_stages
from .teacher_attention import (TEACHER_ATTENTION_CHOICES,
                                default_teacher_attention_path,
                                load_teacher_attention_file,
                                resolve_teacher_attention,
                                teacher_state_dict)

__all__ = ['AttnFDDistiller', 'auto_stages', 'probe_channels',
           'AUTO_PRESETS', 'TEACHER_ATTENTION_CHOICES', 'StageSpec']


@MODELS.register_module()
class AttnFDDistiller(FusedStageLossMixin, StageDistiller):
    """Attention-guided feature distillation (AttnFD) for segmentation.

    A :class:`StageDistiller` preset: student connector
    :class:`CBAMConnector` (trainable CBAM, then 1x1 conv + BN to the
    teacher's channels), teacher connector :class:`TeacherCBAMConnector` (a
    CBAM never trained), loss :class:`AttnFDLoss` named ``loss_attnfd_{i}``.
    Stage losses get the student connector itself
    (:class:`FusedStageLossMixin`); :meth:`AttnFDLoss.connector_loss`
    decides whether its fused path (the values and gradients of the module
    path, found in the forward pass) applies. The loss options
    (``normalize``, ``loss_weight``) are checked and stored by the loss.

    Args:
        stages: ``'auto'`` or a stage list, see :class:`StageDistiller`.
        teacher_attention: ``'fitted'`` (paper: a CBAM trained on the frozen
            teacher, written by ``tools/fit_teacher_attention.py`` and read
            from ``teacher_attention_ckpt``, or without it from the fit's
            default place for this teacher and these stages,
            :func:`default_teacher_attention_path`), ``'random'`` (a fixed,
            randomly initialised CBAM) or ``'parameter_free'`` (public
            code). ``'frozen'`` means ``'fitted'`` when a file is given and
            ``'random'`` otherwise. Defaults to ``'fitted'``.
        teacher_attention_seed: Seed of stage ``i``'s random CBAM minus i.
        teacher_attention_ckpt: Fitted file (only with ``'fitted'``; None
            reads the default place), or any checkpoint with
            ``attnfd_{i}_teacher.cbam.*`` keys.
        normalize: ``'channel'`` (paper), ``'tensor'`` or ``'batch'``
            (public code), see :class:`AttnFDLoss`. Defaults to 'tensor'.
        loss_weight: ``lambda`` of every stage loss. Defaults to 8.0.
        reduction, kernel_size, min_hidden, spatial_norm: CBAM MLP
            reduction (16), spatial kernel (7), minimum MLP width (8) and BN
            after the spatial convolution (False), on both sides.
        align, align_norm_cfg: 1x1 conv + norm (BN) to the teacher's
            channels after the student CBAM (True; else channels must match).
        probe_input_size, init_cfg: See :class:`StageDistiller`.

    Defaults: the best mean final val mIoU of the CamVid ablation
    (``bench/results/accuracy_cpu.md``).
    """

    method = 'AttnFD'

    def __init__(self,
                 stages: Union[str, List[StageSpec]] = 'auto',
                 teacher_attention: str = 'fitted',
                 teacher_attention_seed: int = 0,
                 teacher_attention_ckpt: Optional[str] = None,
                 normalize: str = 'tensor', loss_weight: float = 8.0,
                 reduction: int = 16, kernel_size: int = 7,
                 min_hidden: int = 8, align: bool = True,
                 align_norm_cfg: Optional[Dict] = None,
                 spatial_norm: bool = False,
                 probe_input_size: Tuple[int, int] = (64, 64),
                 init_cfg: Optional[Dict] = None,
                 **kwargs) -> None:
        owner = type(self).__name__
        teacher_attention = resolve_teacher_attention(
            teacher_attention, teacher_attention_ckpt, owner)
        cbam = dict(reduction=reduction, kernel_size=kernel_size,
                    min_hidden=min_hidden, spatial_norm=bool(spatial_norm))
        super().__init__(
            stages=stages,
            loss=dict(type='AttnFDLoss', normalize=normalize,
                      loss_weight=loss_weight),
            student_connector=dict(type='CBAMConnector', align=bool(align),
                                   norm_cfg=align_norm_cfg, **cbam),
            teacher_connector=dict(
                type='TeacherCBAMConnector', **cbam,
                mode='parameter_free' if teacher_attention ==
                'parameter_free' else 'frozen'),
            loss_name='loss_attnfd', probe_input_size=probe_input_size,
            init_cfg=init_cfg, **kwargs)
        # throw-away modules validate the options now, not at the first
        # prepare call
        CBAM(8, reduction=reduction, kernel_size=kernel_size,
             min_hidden=min_hidden)
        AttnFDLoss(normalize=normalize, loss_weight=loss_weight)
        self.teacher_attention = teacher_attention
        self.teacher_attention_seed = int(teacher_attention_seed)
        self.teacher_attention_ckpt = teacher_attention_ckpt
        self.reduction, self.kernel_size = reduction, kernel_size
        self.min_hidden, self.spatial_norm = min_hidden, bool(spatial_norm)
        self.align, self.align_norm_cfg = bool(align), align_norm_cfg

    @property
    def normalize(self) -> str:
        """``normalize`` of the stage losses (kept in their config)."""
        return self.stage_component_cfg('loss', 0)['normalize']

    @property
    def loss_weight(self) -> float:
        """``loss_weight`` of the stage losses (kept in their config)."""
        return float(self.stage_component_cfg('loss', 0)['loss_weight'])

    @property
    def cbam_options(self) -> Dict[str, Any]:
        """CBAM settings a fitted teacher-attention file must share."""
        return dict(reduction=self.reduction, kernel_size=self.kernel_size,
                    min_hidden=self.min_hidden,
                    spatial_norm=self.spatial_norm)

    def stage_component_cfg(self, kind: str, index: int) -> Optional[Dict]:
        """The teacher CBAM of stage ``i`` is seeded ``seed + i``."""
        cfg = super().stage_component_cfg(kind, index)
        if kind == 'teacher_connector':
            cfg['seed'] = self.teacher_attention_seed + index
        return cfg

    def check_stage(self, index: int, stage: Dict[str, Any]) -> None:
        """Without alignment, student and teacher channels must be equal."""
        c_s, c_t = stage['student_channels'], stage['teacher_channels']
        if not self.align and c_s != c_t:
            raise ValueError(
                f'AttnFDDistiller: stage {index} ({stage["label"]}) has '
                f'{c_s} student channels and {c_t} teacher channels; '
                'enable alignment (align=True) to map them with a 1x1 '
                'conv + BN, or pick stages with equal channels.')

    def after_build(self, student: nn.Module, teacher: nn.Module) -> None:
        """Load the fitted teacher attention: ``teacher_attention_ckpt``, or
        the fit's default place for this teacher and these stages."""
        if self.teacher_attention != 'fitted':
            return
        if self.teacher_attention_ckpt:
            self.load_teacher_attention(self.teacher_attention_ckpt, teacher)
            return
        path = default_teacher_attention_path(
            teacher, [s['teacher'] for s in self.stages],
            [s['teacher_channels'] for s in self.stages], self.cbam_options)
        load_teacher_attention_file(path, self, teacher, default=True)

    def log_suffix(self) -> str:  # noqa: D102
        return (f'; teacher attention={self.teacher_attention}, '
                f'normalize={self.normalize}, loss_weight={self.loss_weight}')

    def teacher_attention_state_dict(self) -> Dict[str, Any]:
        """Teacher-side CBAM weights, keyed ``attnfd_{i}_teacher.cbam.*``."""
        return teacher_state_dict(self.connectors,
                                  self.teacher_connector_names)

    def load_teacher_attention(self, path: str,
                               teacher: Optional[nn.Module] = None) -> None:
        """Load teacher CBAMs, see :func:`load_teacher_attention_file`."""
        load_teacher_attention_file(path, self, teacher)
