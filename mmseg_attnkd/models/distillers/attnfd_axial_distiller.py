# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""AttnFD from a teacher together with axial self-distillation."""
import copy
from typing import Dict, Optional

from mmrazor.registry import MODELS, TASK_UTILS
from torch import Tensor, nn

from .attnfd_distiller import AttnFDDistiller
from .axial_self_distiller import (DEFAULT_MSE, DEFAULT_TEACHER_CE,
                                   build_axial_connector, find_logit_head)
from .connector_cache import ConnectorCacheMixin

__all__ = ['AttnFDAxialDistiller']

_CONNECTOR = 'axial'
_LOGITS = 'axial_logits'
_LABELS = 'axial_labels'


@MODELS.register_module()
class AttnFDAxialDistiller(ConnectorCacheMixin, AttnFDDistiller):
    """AttnFD (external teacher) plus axial self-distillation of the student.

    The student learns from the teacher's CBAM-refined features exactly as
    with :class:`AttnFDDistiller` (losses ``loss_attnfd_{i}``) and, at the
    same time, its own decode-head logits are refined by an
    :class:`AxialConnector` into a self-teacher output trained with the
    head's task loss (``loss_teacher_ce``) and tied to the student output by
    ``loss_sd_mse``, as with :class:`AxialSelfDistiller`. All axial records
    come from the student; the external teacher only feeds AttnFD.

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
        **kwargs: :class:`AttnFDDistiller` arguments (``stages``,
            ``teacher_attention``, ``normalize``, ``loss_weight``, ...).
    """

    def __init__(self,
                 head: str = 'decode_head',
                 axial: Optional[Dict] = None,
                 teacher_ce: Optional[Dict] = DEFAULT_TEACHER_CE,
                 mse: Optional[Dict] = DEFAULT_MSE,
                 **kwargs) -> None:
        if not isinstance(head, str) or not head:
            raise TypeError(f'head must be a dotted module path such as '
                            f'"decode_head", got {head!r}')
        if teacher_ce is None:
            raise ValueError(
                'AttnFDAxialDistiller needs teacher_ce: it is what trains the '
                'axial block. For AttnFD alone use AttnFDDistiller.')
        super().__init__(**kwargs)
        self.head_name = head
        self.axial_cfg = dict(axial or {})
        self.axial_cfg.pop('type', None)
        self._axial_loss_cfgs = dict(loss_teacher_ce=copy.deepcopy(teacher_ce))
        if mse is not None:
            self._axial_loss_cfgs['loss_sd_mse'] = copy.deepcopy(mse)

    def _build(self, student: nn.Module, teacher: nn.Module) -> None:
        super()._build(student, teacher)
        head = find_logit_head(student, self.head_name)
        connector = build_axial_connector(self.axial_cfg, head,
                                          self.head_name)
        labels_src = f'{self.head_name}.loss_decode'
        if isinstance(head.loss_decode, nn.ModuleList):
            labels_src += '.0'
        for name, cfg in ((_LOGITS, dict(type='ModuleOutputs',
                                         source=f'{self.head_name}.conv_seg')),
                          (_LABELS, dict(type='ModuleInputs',
                                         source=labels_src))):
            recorder = TASK_UTILS.build(
                dict(cfg, type=cfg['type'] + 'Recorder'))
            recorder.initialize(student)
            self.student_recorders.recorders[name] = recorder
        param = next(student.parameters(), None)
        if param is not None:
            connector = connector.to(param.device)
        self.connectors[_CONNECTOR] = connector
        mappings = dict()
        refined = dict(recorder=_LOGITS, from_student=True,
                       connector=_CONNECTOR)
        for name, cfg in self._axial_loss_cfgs.items():
            loss = MODELS.build(cfg)
            if hasattr(loss, 'bind_head'):
                loss.bind_head(head)
            self.distill_losses[name] = loss
            if name == 'loss_teacher_ce':
                mappings[name] = dict(
                    seg_logits=refined,
                    seg_label=dict(recorder=_LABELS, from_student=True,
                                   data_idx=1))
            else:
                mappings[name] = dict(
                    preds_S=dict(recorder=_LOGITS, from_student=True),
                    preds_T=refined)
        self._check_loss_forward_mappings(
            {k: self.distill_losses[k] for k in mappings}, mappings,
            self.student_recorders, self.teacher_recorders)
        self.loss_forward_mappings.update(mappings)

    def teacher_output(self) -> Tensor:
        """Self-teacher logits ``(N, C, h, w)`` of the last student forward."""
        return self.get_record(_LOGITS, from_student=True,
                               connector=_CONNECTOR)

    def student_output(self) -> Tensor:
        """Student logits ``(N, C, h, w)`` of the last student forward."""
        return self.get_record(_LOGITS, from_student=True)
