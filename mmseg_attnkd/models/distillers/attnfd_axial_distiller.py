# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""AttnFD from a teacher together with axial self-distillation."""
from typing import Dict, Optional

from mmrazor.registry import MODELS
from torch import nn

from .attnfd_distiller import AttnFDDistiller
from .axial_branch import DEFAULT_TEACHER_CE, AxialBranchMixin
from .connector_cache import ConnectorCacheMixin

__all__ = ['AttnFDAxialDistiller']


@MODELS.register_module()
class AttnFDAxialDistiller(ConnectorCacheMixin, AxialBranchMixin,
                           AttnFDDistiller):
    """AttnFD (external teacher) plus axial self-distillation of the student.

    The student learns from the teacher's CBAM-refined features exactly as
    with :class:`AttnFDDistiller` (losses ``loss_attnfd_{i}``) and, at the
    same time, its own decode-head logits are refined by an
    :class:`AxialConnector` into a self-teacher output trained with the
    head's task loss (``loss_teacher_ce``) and tied to the student output by
    ``loss_sd_mse``: the axial branch of :class:`AxialSelfDistiller`
    (:class:`AxialBranchMixin`). All axial records come from the student;
    the external teacher only feeds AttnFD.

    Use it inside ``SegSingleTeacherDistill``. The checkpoint keeps the axial
    block at ``distiller.connectors.axial.*``, so
    ``tools/model_converters/convert_axial_ckpt_to_refine_head.py`` exports
    the self-teacher output and ``convert_kd_ckpt_to_student.py`` the plain
    student.

    Args:
        head: Dotted path of the student's decode head. Defaults to
            ``'decode_head'``.
        axial: Extra :class:`AxialConnector` arguments (``in_channels`` is
            read from the head).
        teacher_ce: Config of the self-teacher task loss; defaults to
            ``DecodeHeadLoss`` with weight 1.
        mse: Config of the consistency loss; defaults to
            ``SelfDistillMSELoss(target='prob', detach_teacher=True)``.
        axial_input: What the axial block reads, ``'logits'`` (default) or
            ``'features'`` (also the decoder features): see
            :class:`AxialSelfDistiller`.
        **kwargs: :class:`AttnFDDistiller` arguments (``stages``,
            ``teacher_attention``, ``normalize``, ``loss_weight``, ...).
    """

    def __init__(self,
                 teacher_ce: Optional[Dict] = DEFAULT_TEACHER_CE,
                 **kwargs) -> None:
        if teacher_ce is None:
            raise ValueError(
                'AttnFDAxialDistiller needs teacher_ce: it is what trains the '
                'axial block. For AttnFD alone use AttnFDDistiller.')
        super().__init__(teacher_ce=teacher_ce, **kwargs)

    def after_build(self, student: nn.Module, teacher: nn.Module) -> None:
        """Load the teacher attention (AttnFD), then add the axial branch."""
        super().after_build(student, teacher)
        self.build_axial_branch(student)
