# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""``SelfDistill`` with recorder checks and a NaN/Inf loss guard."""
from typing import Dict, Optional, Union

from mmengine.model import BaseModel
from mmrazor.models.algorithms import SelfDistill
from mmrazor.registry import MODELS
from torch import Tensor, nn

from .architecture_cfg import build_distill_models, seg_distiller_cfg
from .distill_checks import check_recorder_sources
from .ema_self_teacher import EMASelfTeacher
from .nonfinite_loss_guard import NonFiniteLossGuardMixin

__all__ = ['SegSelfDistill']

#: Names the axial distillers give their block and consistency loss.
_AXIAL, _CONSISTENCY = 'axial', 'loss_sd_mse'


@MODELS.register_module()
class SegSelfDistill(NonFiniteLossGuardMixin, SelfDistill):
    """MMRazor's ``SelfDistill`` with build-time and per-step checks.

    Same arguments and checkpoint layout as ``SelfDistill``; recorder
    sources of a config-defined distiller are checked against the model
    (both "student" and "teacher" recorders hook the one model), and, with
    ``nonfinite_loss`` set, losses are checked for NaN/Inf before each
    update (see :class:`NonFiniteLossGuardMixin`). Use it for axial
    self-distillation::

        model = dict(_scope_='mmrazor', type='SegSelfDistill',
                     architecture=..., distiller=dict(
                         type='AxialSelfDistiller'))

    Args:
        architecture: Model config or model.
        distiller: Distiller config.
        nonfinite_loss: None (default), ``'raise'`` or ``'skip'``.
        ema_teacher: None (default: the live axial block is the teacher) or
            ``dict(momentum=0.01)``: the consistency loss (``loss_sd_mse``)
            compares the student output with the output of an
            exponential moving average of the student and its axial block
            (:class:`~.ema_self_teacher.EMASelfTeacher`), updated after
            every optimizer step; the live block still trains on the
            teacher CE and serves validation and export.
        **kwargs: Other ``SelfDistill`` arguments.
    """

    def __init__(self,
                 architecture: Union[BaseModel, Dict],
                 distiller: Dict,
                 nonfinite_loss: Optional[str] = None,
                 ema_teacher: Optional[Dict] = None,
                 **kwargs) -> None:
        self._init_nonfinite_guard(nonfinite_loss)
        architecture, _ = build_distill_models(architecture, None, kwargs,
                                               type(self).__name__)
        distiller = seg_distiller_cfg(distiller)
        if isinstance(distiller, dict):
            for side in ('student', 'teacher'):
                check_recorder_sources(
                    distiller.get(f'{side}_recorders'), architecture, side,
                    model_desc='model (self-distillation)')
        super().__init__(
            architecture=architecture, distiller=distiller, **kwargs)
        self.ema_teacher = None
        if ema_teacher is not None:
            block = self._axial_block()
            self.ema_teacher = EMASelfTeacher(self.architecture, block,
                                              **ema_teacher)

    def _axial_block(self) -> nn.Module:
        connectors = getattr(self.distiller, 'connectors', {})
        if _AXIAL not in connectors or \
                _CONSISTENCY not in self.distiller.distill_losses:
            raise ValueError(
                'SegSelfDistill: ema_teacher needs the axial branch and its '
                "consistency loss (distiller=dict(type='AxialSelfDistiller')"
                ' with mse set); remove ema_teacher otherwise.')
        block = connectors[_AXIAL]
        if getattr(getattr(block, 'axial', None), 'context_channels', 0):
            raise ValueError(
                "SegSelfDistill: ema_teacher supports axial_input='logits' "
                'only (the EMA copy computes its teacher output from the '
                "logits); drop ema_teacher or axial_input='features'.")
        return block

    def loss(self, batch_inputs: Tensor, data_samples=None) -> dict:
        """``SelfDistill``'s losses; with ``ema_teacher`` the consistency
        term targets the EMA teacher output instead of the live one."""
        losses = super().loss(batch_inputs, data_samples)
        if self.ema_teacher is not None:
            target = self.ema_teacher.teacher_output(batch_inputs)
            # through the distiller's fp32 path, as its own losses are
            losses[f'distill.{_CONSISTENCY}'] = self.distiller.float32_loss(
                _CONSISTENCY, dict(preds_S=self.distiller.student_output(),
                                   preds_T=target))
        return losses

    def train_step(self, data, optim_wrapper) -> dict:
        """One step; then the EMA teacher averages the new weights in."""
        log_vars = super().train_step(data, optim_wrapper)
        if self.ema_teacher is not None:
            self.ema_teacher.update(self.architecture, self._axial_block())
        return log_vars

