# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""``SelfDistill`` with recorder checks and a NaN/Inf loss guard."""
from typing import Dict, Optional, Union

from mmengine.model import BaseModel
from mmrazor.models.algorithms import SelfDistill
from mmrazor.registry import MODELS

from .architecture_cfg import build_distill_models, seg_distiller_cfg
from .distill_checks import check_recorder_sources
from .nonfinite_loss_guard import NonFiniteLossGuardMixin

__all__ = ['SegSelfDistill']


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
        **kwargs: Other ``SelfDistill`` arguments.
    """

    def __init__(self,
                 architecture: Union[BaseModel, Dict],
                 distiller: Dict,
                 nonfinite_loss: Optional[str] = None,
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
