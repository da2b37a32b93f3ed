# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The axial self-teacher branch shared by the axial distillers.

A student's decode-head logits (the *student output*) are refined by an
:class:`AxialConnector` into a *teacher output*, trained with the head's own
task loss and tied to the student output by a consistency loss. Both
``AxialSelfDistiller`` (alone) and ``AttnFDAxialDistiller`` (next to AttnFD
from an external teacher) build exactly this branch; every record comes
from the student.
"""
import copy
from typing import Dict, Optional

from mmengine.logging import print_log
from mmrazor.registry import MODELS, TASK_UTILS
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor, nn

from .logits_tap import LOGITS_TAP, logit_module
from .module_io_recorder import ModuleInputOutputRecorder  # noqa: F401
from .module_names import closest_names_hint, module_names

__all__ = [
    'AxialBranchMixin', 'find_logit_head', 'build_axial_connector',
    'resolve_head_name', 'DEFAULT_TEACHER_CE', 'DEFAULT_MSE',
    'AXIAL_CONNECTOR', 'AXIAL_INPUTS'
]

#: Default task loss of the axial self-teacher output (the head's own loss).
DEFAULT_TEACHER_CE = dict(type='DecodeHeadLoss', loss_weight=1.0)
#: Default student/self-teacher consistency loss (see SelfDistillMSELoss).
DEFAULT_MSE = dict(
    type='SelfDistillMSELoss',
    loss_weight=1.0,
    target='prob',
    detach_teacher=True)
#: Connector name; checkpoints keep the block at
#: ``distiller.connectors.axial.*``.
AXIAL_CONNECTOR = 'axial'
_LOGITS = 'logits'
_LABELS = 'labels'
#: Recorder of ``(features, logits)`` at ``conv_seg`` (``axial_input=
#: 'features'``).
_FEATURES_LOGITS = 'features_logits'
#: What the axial block reads: the logits alone, or the decoder features
#: beside them.
AXIAL_INPUTS = ('logits', 'features')


def resolve_head_name(model: nn.Module, head_name: str) -> str:
    """``head_name``, or a stage of it when it names a cascade's list of
    decode heads (``CascadeEncoderDecoder``): the last stage that outputs a
    logit map with ``conv_seg`` (OCRNet: ``'decode_head.1'``; PointRend,
    whose last stage predicts sampled points: ``'decode_head.0'``)."""
    try:
        module = model.get_submodule(head_name)
    except AttributeError:
        return head_name  # find_logit_head names the closest modules
    if not isinstance(module, nn.ModuleList) or not len(module):
        return head_name
    for i in reversed(range(len(module))):
        stage = module[i]
        if isinstance(getattr(stage, 'conv_seg', None), nn.Conv2d) and \
                not hasattr(stage, 'fc_seg'):
            name = f'{head_name}.{i}'
            if i != len(module) - 1:
                print_log(
                    f'axial self-distillation: {head_name}.{len(module) - 1}'
                    f' ({type(module[-1]).__name__}) outputs no logit map '
                    f'in training; refining the logits of {name} '
                    f'({type(stage).__name__}).', logger='current')
            return name
    return f'{head_name}.{len(module) - 1}'  # find_logit_head says why


def find_logit_head(model: nn.Module, head_name: str) -> nn.Module:
    """The MMSeg decode head at ``head_name``.

    Its logits are recorded at ``conv_seg`` or, for a head without one
    (Segmenter's mask transformer), at the ``logits_tap`` its output is
    routed through (:func:`~.logits_tap.logit_module`).

    Raises:
        ValueError: No such module, not an MMSeg decode head, or a head
            whose training output is no logit map (PointRend's points,
            K-Net's list of stages).
    """
    try:
        head = model.get_submodule(head_name)
    except AttributeError:
        hint = closest_names_hint(head_name, module_names(model))
        raise ValueError(
            f'{type(model).__name__} has no module "{head_name}". {hint} '
            'Set distiller.head to the dotted path of the decode head, '
            'e.g. "decode_head" (EncoderDecoder) or "decode_head.1" '
            '(CascadeEncoderDecoder).') from None
    what = f'"{head_name}" ({type(head).__name__})'
    if hasattr(head, 'fc_seg'):
        raise ValueError(
            f'{what} predicts logits of sampled points in training, not a '
            "logit map; set distiller.head='decode_head.0' (the cascade's "
            'coarse head) for axial self-distillation.')
    if hasattr(head, 'kernel_update_head'):
        raise ValueError(
            f'{what} returns a list of stage logits in training, which '
            'axial self-distillation cannot refine; use a single-output '
            'decode head.')
    if not isinstance(getattr(head, 'conv_seg', None), nn.Conv2d) and \
            not isinstance(head, BaseDecodeHead):
        raise ValueError(
            f'{what} has no conv_seg Conv2d classifier and is not an MMSeg '
            'decode head, so its logits cannot be recorded. Set '
            'distiller.head to the decode head, e.g. "decode_head" or for a '
            'cascade "decode_head.<i>".')
    if not hasattr(head, 'loss_decode'):
        raise ValueError(
            f'{what} has no loss_decode; use an MMSeg BaseDecodeHead.')
    return head


def build_axial_connector(axial_cfg: Dict, head: nn.Module,
                          head_name: str,
                          axial_input: str = 'logits') -> nn.Module:
    """An ``AxialConnector`` as wide as the head's logits (``conv_seg``'s
    output channels, else the head's ``out_channels``).

    Args:
        axial_cfg: ``AxialConnector`` arguments; ``in_channels`` may be
            omitted (it is read from the head) but must match if given.
        head: The decode head (see :func:`find_logit_head`).
        head_name: Its dotted path, for the error message.
        axial_input: ``'logits'`` or ``'features'``: the block also reads
            the ``conv_seg`` input (``context_channels`` = its channels).

    Raises:
        ValueError: ``in_channels`` differs from the head's class count, or
            ``'features'`` for a head without a ``conv_seg`` Conv2d.
    """
    conv_seg = getattr(head, 'conv_seg', None)
    num_logits = conv_seg.out_channels if isinstance(conv_seg, nn.Conv2d) \
        else head.out_channels
    given = axial_cfg.get('in_channels', num_logits)
    if given != num_logits:
        raise ValueError(
            f'axial.in_channels={given} but {head_name}.conv_seg outputs '
            f'{num_logits} channels; remove in_channels from the distiller '
            'config (it is read from the head).')
    cfg = dict(type='AxialConnector', in_channels=num_logits)
    cfg.update({k: v for k, v in axial_cfg.items() if k != 'in_channels'})
    if axial_input == 'features':
        if not isinstance(conv_seg, nn.Conv2d):
            raise ValueError(
                f"axial_input='features' reads the input of "
                f'{head_name}.conv_seg, which {type(head).__name__} does not '
                "have; use axial_input='logits' for this head.")
        cfg['context_channels'] = conv_seg.in_channels
    return MODELS.build(cfg)


class AxialBranchMixin:
    """Adds the axial self-teacher branch to a ``ConfigurableDistiller``.

    It takes the branch's arguments (``head``, ``axial``, ``teacher_ce``,
    ``mse``, ``axial_input``; documented on the axial distillers) and passes
    every other one on to the distiller after it in the MRO, so each axial
    distiller states them once, here. Call :meth:`build_axial_branch` once
    the student exists. It adds the student recorders ``logits`` (outputs
    of ``<head>.conv_seg``) and ``labels`` (inputs of
    ``<head>.loss_decode``), the connector ``axial`` and the losses
    ``loss_teacher_ce`` (``seg_logits`` = teacher output, ``seg_label``)
    and ``loss_sd_mse`` (``preds_S`` = student output, ``preds_T`` =
    teacher output).
    """

    def __init__(self,
                 head: str = 'decode_head',
                 axial: Optional[Dict] = None,
                 teacher_ce: Optional[Dict] = DEFAULT_TEACHER_CE,
                 mse: Optional[Dict] = DEFAULT_MSE,
                 axial_input: str = 'logits',
                 **kwargs) -> None:
        # checked before the distiller builds anything
        self.check_axial_branch(head, axial, teacher_ce, mse, axial_input)
        super().__init__(**kwargs)
        self.head_name = head
        self.axial_input = axial_input
        self.axial_cfg = dict(axial or {})
        self.axial_cfg.pop('type', None)
        self._axial_loss_cfgs = {
            name: copy.deepcopy(cfg)
            for name, cfg in (('loss_teacher_ce', teacher_ce),
                              ('loss_sd_mse', mse)) if cfg is not None
        }

    @staticmethod
    def check_axial_branch(head: str, axial: Optional[Dict],
                           teacher_ce: Optional[Dict], mse: Optional[Dict],
                           axial_input: str) -> None:
        """Refuse branch settings that cannot train (one line each)."""
        if not isinstance(head, str) or not head:
            raise TypeError(f'head must be a dotted module path such as '
                            f'"decode_head", got {head!r}')
        if axial_input not in AXIAL_INPUTS:
            raise ValueError(f'axial_input must be one of {AXIAL_INPUTS}, '
                             f'got {axial_input!r}.')
        if 'context_channels' in (axial or {}):
            raise ValueError(
                'set axial_input=\'features\' instead of '
                'axial.context_channels (it is read from conv_seg).')
        if teacher_ce is None and (mse is None
                                   or mse.get('detach_teacher', True)):
            raise ValueError(
                'with teacher_ce=None nothing trains the axial block (the '
                'MSE stops gradients at the teacher); keep teacher_ce or set '
                'mse.detach_teacher=False.')

    @property
    def axial_branch_built(self) -> bool:
        """Whether :meth:`build_axial_branch` ran."""
        return AXIAL_CONNECTOR in self.connectors

    def build_axial_branch(self, student: nn.Module) -> None:
        """Build recorders, connector and losses on the student.

        Raises:
            ValueError: The head is missing, has no ``conv_seg`` or the
                configured ``in_channels`` does not match it.
        """
        self.head_name = resolve_head_name(student, self.head_name)
        head = find_logit_head(student, self.head_name)
        connector = build_axial_connector(self.axial_cfg, head,
                                          self.head_name, self.axial_input)
        labels_src = f'{self.head_name}.loss_decode'
        if isinstance(head.loss_decode, nn.ModuleList):
            # several losses: their first one sees the same (logits, label)
            labels_src += '.0'
        tap = logit_module(head)
        logits_src = f'{self.head_name}.conv_seg' if tap is \
            getattr(head, 'conv_seg', None) else \
            f'{self.head_name}.{LOGITS_TAP}'
        recorders = [(_LOGITS, 'ModuleOutputsRecorder', logits_src),
                     (_LABELS, 'ModuleInputsRecorder', labels_src)]
        if self.axial_input == 'features':  # (features, logits) together
            recorders.append((_FEATURES_LOGITS, 'ModuleInputOutputRecorder',
                              logits_src))
        for name, kind, source in recorders:
            recorder = TASK_UTILS.build(dict(type=kind, source=source))
            recorder.initialize(student)
            self.student_recorders.recorders[name] = recorder
        param = next(student.parameters(), None)
        if param is not None:
            connector = connector.to(param.device)
        self.connectors[AXIAL_CONNECTOR] = connector
        refined = dict(recorder=self._axial_source, from_student=True,
                       connector=AXIAL_CONNECTOR)
        inputs = dict(
            loss_teacher_ce=dict(
                seg_logits=refined,
                seg_label=dict(recorder=_LABELS, from_student=True,
                               data_idx=1)),
            loss_sd_mse=dict(
                preds_S=dict(recorder=_LOGITS, from_student=True),
                preds_T=refined))
        mappings = {}
        for name, cfg in self._axial_loss_cfgs.items():
            loss = MODELS.build(cfg)
            if hasattr(loss, 'bind_head'):
                loss.bind_head(head)
            self.distill_losses[name] = loss
            mappings[name] = inputs[name]
        self._check_loss_forward_mappings(
            {k: self.distill_losses[k] for k in mappings}, mappings,
            self.student_recorders, self.teacher_recorders)
        self.loss_forward_mappings.update(mappings)

    @property
    def _axial_source(self) -> str:
        """The recorder the axial block reads."""
        return _FEATURES_LOGITS if self.axial_input == 'features' \
            else _LOGITS

    def teacher_output(self) -> Tensor:
        """Self-teacher logits ``(N, C, h, w)`` of the last student forward."""
        return self.get_record(self._axial_source, from_student=True,
                               connector=AXIAL_CONNECTOR)

    def student_output(self) -> Tensor:
        """Student logits ``(N, C, h, w)`` of the last student forward."""
        return self.get_record(_LOGITS, from_student=True)
