# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The student with its axial refinement block as one MMSeg model config."""
import copy
from typing import Optional

from mmengine.config import ConfigDict

from ..utils.export.axial import (AXIAL_CONNECTOR_ONLY_KEYS,
                                  axial_refine_model_cfg)

__all__ = ['AXIAL_CONNECTOR_ONLY_KEYS', 'axial_args_from_cfg',
           'with_axial_refine_head']


def axial_args_from_cfg(cfg) -> dict:
    """``AxialAttention2d`` arguments of an axial self-distillation config.

    Reads ``model.distiller.axial`` (``AxialSelfDistiller``); an absent
    section gives the defaults (``{}``).
    """
    model = cfg.get('model', {}) if hasattr(cfg, 'get') else {}
    distiller = model.get('distiller') or {}
    axial = dict(distiller.get('axial') or {})
    return {k: v for k, v in axial.items()
            if k not in AXIAL_CONNECTOR_ONLY_KEYS}


def with_axial_refine_head(model_cfg: dict,
                           axial: Optional[dict] = None) -> ConfigDict:
    """``model_cfg`` with its decode head wrapped in ``AxialRefineHead``.

    This is the inference model of axial self-distillation's teacher
    output (student logits refined by ``AxialAttention2d``); the exporter
    builds the same model (:func:`~mmseg_attnkd.utils.axial_refine_model_cfg`).

    Args:
        model_cfg: An MMSeg ``EncoderDecoder`` config.
        axial: ``AxialAttention2d`` arguments (``in_channels`` is taken
            from the head).
    """
    head = model_cfg.get('decode_head')
    if not isinstance(head, dict):
        raise ValueError('the model config has no single decode_head dict; '
                         'AxialRefineHead wraps one MMSeg decode head.')
    if head.get('type') == 'AxialRefineHead':
        return ConfigDict(copy.deepcopy(model_cfg))
    return ConfigDict(
        axial_refine_model_cfg(model_cfg, 'decode_head', dict(axial or {})))
