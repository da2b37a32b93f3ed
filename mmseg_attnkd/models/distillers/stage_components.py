# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""How a stage distiller fills its component configs.

MMRazor's connectors take channel counts under different names
(``in_channel``/``out_channel``, ``student_channels``/``teacher_channels``,
``in_channels``/``out_channels``, ``channels``) and its losses read their
inputs under different names (``preds_S``/``preds_T``,
``s_feature``/``t_feature``, ``logits_S``/``logits_T``). The stage
distiller fills the probed channels into whatever a connector's
``__init__`` accepts and feeds the student/teacher records to a loss's first
two ``forward`` parameters.
"""
import copy
import inspect
from typing import Dict, Set, Tuple

import torch.nn as nn
from mmrazor.registry import MODELS

__all__ = ['init_arg_names', 'with_channels', 'loss_input_names',
           'default_loss_name']


def init_arg_names(cfg: Dict) -> Set[str]:
    """Named ``__init__`` arguments of the class that ``cfg['type']`` builds.

    Raises:
        KeyError: The type is not registered in MMRazor's ``MODELS``.
    """
    type_ = cfg.get('type')
    cls = MODELS.get(type_) if isinstance(type_, str) else type_
    if not inspect.isclass(cls):
        raise KeyError(f'{type_!r} is not a registered model type (MMRazor '
                       'MODELS, with mmseg_attnkd imported); check the '
                       "component config's type.")
    params = inspect.signature(cls.__init__).parameters.values()
    return {
        p.name for p in params
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def with_channels(cfg: Dict, in_channels: int, student_channels: int,
                  teacher_channels: int) -> Dict:
    """A copy of a connector config with the probed channels filled in.

    ``in_channels``/``in_channel`` (or ``channels`` when neither exists)
    get the channels of the connector's own input, ``out_channels``/
    ``out_channel`` and ``teacher_channels`` the teacher's,
    ``student_channels`` the student's. Values set in ``cfg`` are kept.

    Args:
        cfg: Connector config with ``type``.
        in_channels: ``C`` of the side it refines (student or teacher).
        student_channels: ``C_s`` of the stage.
        teacher_channels: ``C_t`` of the stage.
    """
    cfg = copy.deepcopy(dict(cfg))
    names = init_arg_names(cfg)
    values = dict(
        in_channels=in_channels,
        in_channel=in_channels,
        out_channels=teacher_channels,
        out_channel=teacher_channels,
        student_channels=student_channels,
        teacher_channels=teacher_channels)
    if not names & {'in_channels', 'in_channel'}:
        values['channels'] = in_channels
    for name, value in values.items():
        if name in names and name not in cfg:
            cfg[name] = value
    return cfg


def loss_input_names(loss: nn.Module) -> Tuple[str, str]:
    """Names of the first two ``forward`` parameters (student, teacher).

    Raises:
        TypeError: ``forward`` takes fewer than two named inputs.
    """
    params = [
        p.name for p in inspect.signature(loss.forward).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(params) < 2:
        raise TypeError(
            f'{type(loss).__name__}.forward takes {params}; a stage loss '
            'needs (student_record, teacher_record, ...) inputs.')
    return params[0], params[1]


def default_loss_name(cfg: Dict) -> str:
    """``'loss_at'`` for ``ATLoss``, ``'loss_pkd'`` for ``PKDLoss``, ..."""
    type_ = cfg.get('type')
    name = type_ if isinstance(type_, str) else type_.__name__
    name = name.split('.')[-1]
    name = name[:-len('Loss')] if name.endswith('Loss') else name
    return f'loss_{name.lower()}'
