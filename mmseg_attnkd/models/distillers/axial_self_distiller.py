# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial self-distillation for any MMSeg decode head with ``conv_seg``."""
from typing import Dict

from mmrazor.registry import MODELS
from torch import Tensor, nn

from .axial_branch import (DEFAULT_MSE, DEFAULT_TEACHER_CE, AxialBranchMixin,
                           build_axial_connector, find_logit_head,
                           resolve_head_name)
from .connector_cache import ConnectorCacheMixin
from .seg_configurable_distiller import SegConfigurableDistiller

__all__ = [
    'AxialSelfDistiller', 'find_logit_head', 'build_axial_connector',
    'DEFAULT_TEACHER_CE', 'DEFAULT_MSE'
]


@MODELS.register_module()
class AxialSelfDistiller(ConnectorCacheMixin, AxialBranchMixin,
                         SegConfigurableDistiller):
    """Self-distillation through an axial-attention refiner of the logits.

    Method (Hotta lab, Meijo University, "自己蒸留を用いたセグメンテーションの
    高精度化", self-distillation for accurate segmentation): the decode head's
    logits are the *student output*; Axial-Attention (Wang et al., ECCV 2020)
    applied to them gives a *teacher output* with global context. Training
    minimises ``CE(student) + CE(teacher) + MSE(student, teacher)``. At
    inference either output can be used: the student costs nothing extra,
    the teacher is more accurate (export it with
    ``tools/model_converters/convert_axial_ckpt_to_refine_head.py``).

    Use with MMRazor's ``SelfDistill`` (whose task loss is ``CE(student)``);
    this distiller expands into a :class:`SegConfigurableDistiller` (its
    losses see fp32 records with autocast off, as under ``AmpOptimWrapper``
    the logits arrive in reduced precision) holding the axial branch
    (:class:`AxialBranchMixin`):

    * recorders ``logits`` = outputs of ``<head>.conv_seg`` and
      ``labels`` = inputs of ``<head>.loss_decode`` (its positional
      inputs are the upsampled logits and the label map);
    * connector ``axial``: :class:`AxialConnector`; its ``in_channels`` is
      read from ``conv_seg`` at prepare time, so configs need no class count;
    * losses ``loss_teacher_ce`` (:class:`DecodeHeadLoss`: the head's own
      ``loss_decode``, ``ignore_index``, ``align_corners`` and sampler on the
      teacher logits) and ``loss_sd_mse`` (:class:`SelfDistillMSELoss`).

    The connector runs once per step even though two losses read it.

    Args:
        head: Dotted path of the decode head in the model, e.g.
            ``'decode_head'`` or ``'decode_head.1'`` for a cascade;
            ``'decode_head'`` of a cascade means its last stage with a
            logit map (see :func:`resolve_head_name`).
        axial: Extra :class:`AxialConnector` / ``AxialAttention2d``
            arguments (``channels``, ``num_heads``, ``span``, ``long_axis``,
            ``detach_input``, ...). ``in_channels`` may be omitted.
        teacher_ce: Config of the teacher task loss (default
            ``DecodeHeadLoss`` with ``loss_weight=1.0``); None disables it.
        mse: Config of the student/teacher consistency loss (default
            ``SelfDistillMSELoss(target='prob', detach_teacher=True)``, see
            its docstring for why); None disables it.
        axial_input: ``'logits'`` (default: the block refines the logits
            alone) or ``'features'``: it also reads the decoder features
            going into ``conv_seg`` (concatenated to the logits before its
            embedding) and still outputs a residual correction of the
            logits. ``AxialRefineHead`` exports it as it does a logit-only
            block (it feeds the block the same features).
        init_cfg: MMEngine init config.

    Example:
        >>> model = dict(
        ...     _scope_='mmrazor', type='SelfDistill',
        ...     architecture=mmseg_model_cfg,
        ...     distiller=dict(type='AxialSelfDistiller'))
    """

    def prepare_from_student(self, model: nn.Module) -> None:
        """Hook the recorders on ``model``; build the connector and losses.

        Raises:
            ValueError: The head is missing, has no ``conv_seg`` or the
                configured ``in_channels`` does not match it.
        """
        self.head_name = resolve_head_name(model, self.head_name)
        find_logit_head(model, self.head_name)
        super().prepare_from_student(model)
        if not self.axial_branch_built:
            self.build_axial_branch(model)

    def prepare_from_teacher(self, model: nn.Module) -> None:
        """Check the head (``SelfDistill`` passes the student model again);
        every record comes from the student side."""
        find_logit_head(model, self.head_name)
        super().prepare_from_teacher(model)

    def compute_distill_losses(self) -> Dict[str, Tensor]:
        """Compute ``loss_teacher_ce`` and ``loss_sd_mse`` from the records
        of the last forward pass."""
        if not self.axial_branch_built:
            raise RuntimeError(
                'AxialSelfDistiller is not prepared: use it inside '
                'SelfDistill, which calls prepare_from_student(model).')
        return super().compute_distill_losses()
