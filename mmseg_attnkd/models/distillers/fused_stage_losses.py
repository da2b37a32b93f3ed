# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Stage losses that receive the student connector itself.

A mixin for a :class:`.StageDistiller`: a stage loss with a
``connector_loss(feature, connector, target, target_is_scratch)`` method
(such as :class:`~mmseg_attnkd.models.losses.AttnFDLoss`, which picks its
fused path there) gets the raw student record and the student connector
instead of the connector's output; every other loss goes the
module-by-module way of :class:`mmrazor.models.ConfigurableDistiller`.
"""
from typing import Dict, Optional

import torch

from mmseg_attnkd.utils.precision import autocast_enabled
from ..connectors.cbam_connector import TeacherCBAMConnector

__all__ = ['FusedStageLossMixin']


class FusedStageLossMixin:
    """``compute_distill_losses`` that hands stage losses their connector.

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
        """A stage loss through its ``connector_loss`` method (the loss
        chooses how to compute it); None for a loss without one or outside
        the stages (computed from its records by the caller)."""
        stage_losses = {f'{self.loss_name}_{i}'
                        for i in range(len(self.stages))}
        sides = {rec['from_student']: (arg, rec)
                 for arg, rec in mapping.items()}
        loss = self.distill_losses[loss_name]
        if not hasattr(loss, 'connector_loss') or \
                loss_name not in stage_losses or len(mapping) != 2 or \
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
        if not isinstance(feature, torch.Tensor) or \
                not isinstance(target, torch.Tensor):
            return loss(**{s_arg: connector(feature), t_arg: target})
        return loss.connector_loss(feature, connector, target,
                                   target_is_scratch=own)
