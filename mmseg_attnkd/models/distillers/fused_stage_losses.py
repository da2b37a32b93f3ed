# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Stage losses through :func:`.attnfd_fused.attnfd_stage_loss`.

A mixin for a :class:`.StageDistiller` whose stage losses are AttnFD
losses: each stage loss takes the fused path (value and gradients found in
the forward pass, no student-branch activation kept until backward) when
:func:`.attnfd_fused.fusable_stage` allows it, and the module-by-module
path of :class:`mmrazor.models.ConfigurableDistiller` otherwise.
"""
from typing import Dict, Optional

import torch

from mmseg_attnkd.utils.precision import autocast_enabled
from ..connectors.cbam_connector import TeacherCBAMConnector
from .attnfd_fused import attnfd_stage_loss, fusable_stage

__all__ = ['FusedStageLossMixin']


class FusedStageLossMixin:
    """``compute_distill_losses`` with the fused AttnFD stage loss.

    Expects the :class:`.StageDistiller` attributes ``stages``,
    ``loss_name``, ``connectors``, ``distill_losses``,
    ``loss_forward_mappings`` and ``get_record``.
    """

    def compute_distill_losses(self) -> Dict[str, torch.Tensor]:
        """Every loss; stage losses through :meth:`fused_loss` (in fp32;
        under autocast the module path, whose losses get fp32 inputs)."""
        if not self.is_built or autocast_enabled():
            return super().compute_distill_losses()
        losses = dict()
        for name, mapping in self.loss_forward_mappings.items():
            loss = self.fused_loss(name, mapping)
            losses[name] = loss if loss is not None else \
                self.distill_losses[name](**{
                    arg: self.get_record(**record)
                    for arg, record in mapping.items()})
        return losses

    def fused_loss(self, loss_name: str,
                   mapping: Dict[str, Dict]) -> Optional[torch.Tensor]:
        """A stage loss through :func:`attnfd_stage_loss` when
        :func:`fusable_stage` allows it, through its modules when not; None
        for any other loss (computed from its records by the caller)."""
        stage_losses = {f'{self.loss_name}_{i}'
                        for i in range(len(self.stages))}
        sides = {rec['from_student']: (arg, rec)
                 for arg, rec in mapping.items()}
        if loss_name not in stage_losses or len(mapping) != 2 or \
                len(sides) != 2 or sides[True][1].get('connector') is None:
            return None
        (s_arg, s_rec), (t_arg, t_rec) = sides[True], sides[False]
        connector = self.connectors[s_rec['connector']]
        feature = self.get_record(
            **{k: v for k, v in s_rec.items() if k != 'connector'})
        t_conn = self.connectors[t_rec['connector']] \
            if t_rec.get('connector') else None
        own = type(t_conn) is TeacherCBAMConnector
        if own:  # a fresh map the loss may normalise in place
            target = t_conn(self.get_record(
                **{k: v for k, v in t_rec.items() if k != 'connector'}))
        else:
            target = self.get_record(**t_rec)
        loss = self.distill_losses[loss_name]
        if not isinstance(feature, torch.Tensor) or \
                not isinstance(target, torch.Tensor) or \
                not fusable_stage(connector, loss, feature, target):
            return loss(**{s_arg: connector(feature), t_arg: target})
        return attnfd_stage_loss(feature, connector, target, loss,
                                 target_is_scratch=own)
