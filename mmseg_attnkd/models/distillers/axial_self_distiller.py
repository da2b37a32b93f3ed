# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial self-distillation for any MMSeg decode head with ``conv_seg``."""
import copy
from typing import Dict, Optional

from mmrazor.models.distillers import ConfigurableDistiller
from mmrazor.registry import MODELS, TASK_UTILS
from torch import Tensor, nn

from .connector_cache import ConnectorCacheMixin

__all__ = [
    'AxialSelfDistiller', 'find_logit_head', 'build_axial_connector',
    'DEFAULT_TEACHER_CE',
    'DEFAULT_MSE'
]

#: Default task loss of the axial self-teacher output (the head's own loss).
DEFAULT_TEACHER_CE = dict(type='DecodeHeadLoss', loss_weight=1.0)
#: Default student/self-teacher consistency loss (see SelfDistillMSELoss).
DEFAULT_MSE = dict(
    type='SelfDistillMSELoss',
    loss_weight=1.0,
    target='prob',
    detach_teacher=True)

_CONNECTOR = 'axial'
_LOSS_CE = 'loss_teacher_ce'
_LOSS_MSE = 'loss_sd_mse'


def find_logit_head(model: nn.Module, head_name: str) -> nn.Module:
    """The decode head at ``head_name`` with a ``conv_seg`` and ``loss_decode``.

    Raises:
        ValueError: No such module, or it is not an MMSeg decode head.
    """
    try:
        head = model.get_submodule(head_name)
    except AttributeError:
        raise ValueError(
            f'{type(model).__name__} has no module "{head_name}"; '
            'set distiller.head to the dotted path of the decode head, '
            'e.g. "decode_head" (EncoderDecoder) or "decode_head.1" '
            '(CascadeEncoderDecoder).') from None
    conv_seg = getattr(head, 'conv_seg', None)
    if not isinstance(conv_seg, nn.Conv2d):
        raise ValueError(
            f'"{head_name}" ({type(head).__name__}) has no conv_seg '
            'Conv2d classifier, so its logits cannot be recorded. '
            'Axial self-distillation needs an MMSeg BaseDecodeHead whose '
            'forward ends in conv_seg (FCN, PSP, ASPP, DepthwiseSeparable'
            'ASPP, FPN, UPer, ...): use such a head, or for a cascade set '
            'distiller.head="decode_head.<i>".')
    if not hasattr(head, 'loss_decode'):
        raise ValueError(
            f'"{head_name}" ({type(head).__name__}) has no '
            'loss_decode; use an MMSeg BaseDecodeHead.')
    return head


def build_axial_connector(axial_cfg: Dict, head: nn.Module,
                          head_name: str) -> nn.Module:
    """An ``AxialConnector`` as wide as ``head.conv_seg``'s output.

    Args:
        axial_cfg: ``AxialConnector`` arguments; ``in_channels`` may be
            omitted (it is read from the head) but must match if given.
        head: The decode head (see :func:`find_logit_head`).
        head_name: Its dotted path, for the error message.

    Raises:
        ValueError: ``in_channels`` differs from the head's class count.
    """
    num_logits = head.conv_seg.out_channels
    given = axial_cfg.get('in_channels', num_logits)
    if given != num_logits:
        raise ValueError(
            f'axial.in_channels={given} but {head_name}.conv_seg outputs '
            f'{num_logits} channels; remove in_channels from the distiller '
            'config (it is read from the head).')
    cfg = dict(type='AxialConnector', in_channels=num_logits)
    cfg.update({k: v for k, v in axial_cfg.items() if k != 'in_channels'})
    return MODELS.build(cfg)


@MODELS.register_module()
class AxialSelfDistiller(ConnectorCacheMixin, ConfigurableDistiller):
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
    this distiller expands into a regular :class:`ConfigurableDistiller`:

    * recorders: ``logits`` = outputs of ``<head>.conv_seg`` (student and
      "teacher" recorders, both on the same model), ``labels`` = inputs of
      ``<head>.loss_decode`` (its positional inputs are the upsampled logits
      and the label map);
    * connector ``axial``: :class:`AxialConnector`; its ``in_channels`` is
      read from ``conv_seg`` at prepare time, so configs need no class count;
    * losses ``loss_teacher_ce`` (:class:`DecodeHeadLoss`: the head's own
      ``loss_decode``, ``ignore_index``, ``align_corners`` and sampler on the
      teacher logits) and ``loss_sd_mse`` (:class:`SelfDistillMSELoss`).

    The connector runs once per step even though two losses read it.

    Args:
        head: Dotted path of the decode head in the model, e.g.
            ``'decode_head'`` or ``'decode_head.1'`` for a cascade.
        axial: Extra :class:`AxialConnector` / ``AxialAttention2d``
            arguments (``channels``, ``num_heads``, ``span``, ``long_axis``,
            ``detach_input``, ...). ``in_channels`` may be omitted.
        teacher_ce: Config of the teacher task loss (default
            ``DecodeHeadLoss`` with ``loss_weight=1.0``); None disables it.
        mse: Config of the student/teacher consistency loss (default
            ``SelfDistillMSELoss(target='prob', detach_teacher=True)``, see
            its docstring for why); None disables it.
        init_cfg: MMEngine init config.

    Example:
        >>> model = dict(
        ...     _scope_='mmrazor', type='SelfDistill',
        ...     architecture=mmseg_model_cfg,
        ...     distiller=dict(type='AxialSelfDistiller'))
    """

    def __init__(self,
                 head: str = 'decode_head',
                 axial: Optional[Dict] = None,
                 teacher_ce: Optional[Dict] = DEFAULT_TEACHER_CE,
                 mse: Optional[Dict] = DEFAULT_MSE,
                 init_cfg: Optional[Dict] = None) -> None:
        if not isinstance(head, str) or not head:
            raise TypeError(f'head must be a dotted module path such as '
                            f'"decode_head", got {head!r}')
        axial = dict(axial or {})
        axial.pop('type', None)
        if teacher_ce is None and (mse is None
                                   or mse.get('detach_teacher', True)):
            raise ValueError(
                'with teacher_ce=None nothing trains the axial block (the '
                'MSE stops gradients at the teacher); keep teacher_ce or set '
                'mse.detach_teacher=False.')
        logits = dict(type='ModuleOutputs', source=f'{head}.conv_seg')
        labels = dict(type='ModuleInputs', source=f'{head}.loss_decode')
        losses, mappings = dict(), dict()
        teacher_logits = dict(
            recorder='logits', from_student=False, connector=_CONNECTOR)
        if teacher_ce is not None:
            losses[_LOSS_CE] = teacher_ce
            mappings[_LOSS_CE] = dict(
                seg_logits=teacher_logits,
                seg_label=dict(recorder='labels', from_student=True,
                               data_idx=1))
        if mse is not None:
            losses[_LOSS_MSE] = mse
            mappings[_LOSS_MSE] = dict(
                preds_S=dict(recorder='logits', from_student=True),
                preds_T=teacher_logits)
        super().__init__(
            student_recorders=dict(logits=logits, labels=labels),
            teacher_recorders=dict(logits=copy.deepcopy(logits)),
            distill_losses=copy.deepcopy(losses),
            init_cfg=init_cfg)
        self.head_name = head
        self.axial_cfg = axial
        # Checked once the connector exists (its width comes from the head).
        self._pending_mappings = mappings

    # ------------------------------------------------------------------
    def _find_head(self, model: nn.Module) -> nn.Module:
        return find_logit_head(model, self.head_name)

    def prepare_from_student(self, model: nn.Module) -> None:
        """Hook recorders on ``model`` and build the connector and losses.

        Raises:
            ValueError: The head is missing, has no ``conv_seg`` or the
                configured ``in_channels`` does not match it.
        """
        head = self._find_head(model)
        if isinstance(head.loss_decode, nn.ModuleList):
            # several losses: their first one sees the same (logits, label)
            self.student_recorders.recorders['labels'] = TASK_UTILS.build(
                dict(type='ModuleInputsRecorder',
                     source=f'{self.head_name}.loss_decode.0'))
        if _CONNECTOR not in self.connectors:
            self.connectors[_CONNECTOR] = build_axial_connector(
                self.axial_cfg, head, self.head_name)
        for loss in self.distill_losses.values():
            if hasattr(loss, 'bind_head'):
                loss.bind_head(head)
        super().prepare_from_student(model)
        if self._pending_mappings is not None:
            self._check_loss_forward_mappings(self.distill_losses,
                                              self._pending_mappings,
                                              self.student_recorders,
                                              self.teacher_recorders)
            self.loss_forward_mappings = self._pending_mappings
            self._pending_mappings = None

    def prepare_from_teacher(self, model: nn.Module) -> None:
        """Hook the "teacher" recorders (``SelfDistill`` passes the student
        model again)."""
        self._find_head(model)
        super().prepare_from_teacher(model)

    # ------------------------------------------------------------------
    def compute_distill_losses(self) -> Dict[str, Tensor]:
        """Compute ``loss_teacher_ce`` and ``loss_sd_mse`` from the records
        of the last forward pass."""
        if self._pending_mappings is not None:
            raise RuntimeError(
                'AxialSelfDistiller is not prepared: use it inside '
                'SelfDistill, which calls prepare_from_student(model).')
        return super().compute_distill_losses()

    def teacher_output(self) -> Tensor:
        """Teacher logits ``(N, C, h, w)`` of the last recorded forward."""
        return self.get_record(
            'logits', from_student=False, connector=_CONNECTOR)

    def student_output(self) -> Tensor:
        """Student logits ``(N, C, h, w)`` of the last recorded forward."""
        return self.get_record('logits', from_student=True)
