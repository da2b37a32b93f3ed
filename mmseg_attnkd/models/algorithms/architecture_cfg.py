# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Model dicts of a distillation algorithm, as a stock MMSeg config has them.

A ``model`` dict copied from an MMSeg config has no ``_scope_`` (MMSeg's
runner sets ``default_scope='mmseg'``); built from MMRazor's registry it
stops with ``EncoderDecoder is not in the mmrazor::model registry``. And
MMEngine's runner copies the config's top-level ``data_preprocessor`` into
the algorithm dict when that dict has none, so the algorithm would
preprocess with the ``_base_`` crop size while the user changed only
``model.data_preprocessor``. :func:`build_distill_models` fixes both before
the algorithm is built.
"""
import copy
import logging
from typing import Any, Dict, Optional, Tuple, Union

from mmengine.logging import print_log
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmrazor.registry import MODELS as RAZOR_MODELS
from mmseg.registry import MODELS as SEG_MODELS

__all__ = ['with_default_scope', 'build_distill_models',
           'own_data_preprocessor', 'seg_distiller_cfg']

ModelArg = Union[BaseModel, Dict]


def with_default_scope(cfg: Dict, who: str) -> Dict:
    """``cfg`` with ``_scope_='mmseg'`` when it names an MMSeg model type
    and has no scope of its own.

    A dict with ``_scope_``, with ``cfg_path`` (MMRazor builds it from that
    config) or whose ``type`` MMRazor's registry knows is returned as is.

    Args:
        cfg: The architecture (student) or teacher dict.
        who: ``'architecture'`` or ``'teacher'``, for the message.

    Raises:
        KeyError: ``type`` is in neither MMRazor's nor MMSeg's model
            registry; one line naming ``_scope_`` and ``cfg_path``.
    """
    if '_scope_' in cfg or 'cfg_path' in cfg or 'type' not in cfg:
        return cfg
    kind = cfg['type']
    if not isinstance(kind, str) or '.' in kind or \
            RAZOR_MODELS.get(kind) is not None:
        return cfg
    if SEG_MODELS.get(kind) is None:
        raise KeyError(
            f'{who}.type={kind!r} is in neither the mmrazor nor the mmseg '
            f"model registry; set {who}._scope_='mmseg' (or the scope "
            f"that registers it), or give {who}=dict(cfg_path='mmseg::"
            "<config>.py') instead.")
    cfg = copy.copy(cfg)
    cfg['_scope_'] = 'mmseg'
    return cfg


def own_data_preprocessor(declared: Any, built: BaseModel, given: Any,
                          owner: str) -> Any:
    """The data preprocessor an algorithm around ``built`` uses.

    The architecture's own (``declared`` in its config, the module of the
    built model) wins over ``given`` (the algorithm's ``data_preprocessor``,
    which MMEngine's runner fills with the config's top-level one); a
    differing ``given`` is logged once and ignored. Without one of its own,
    ``given`` is used (a dict naming an MMSeg type gets ``_scope_='mmseg'``).

    Args:
        declared: The architecture config's ``data_preprocessor`` (None when
            it has none), or for a model built elsewhere its module unless
            that is MMEngine's do-nothing ``BaseDataPreprocessor``.
        built: The built architecture.
        given: The algorithm's ``data_preprocessor`` argument (dict,
            module or None).
        owner: Algorithm name for the log line.

    Returns:
        ``built.data_preprocessor`` when the architecture declares one,
        else ``given``.
    """
    if declared is None:
        if isinstance(given, dict):  # e.g. SegDataPreProcessor, no scope
            return with_default_scope(given, 'data_preprocessor')
        return given
    if given is not None and not _same(declared, given):
        print_log(
            f'{owner}: using the architecture\'s data_preprocessor '
            f'({_describe(declared)}); the algorithm-level one '
            f'({_describe(given)}, e.g. the config\'s top-level '
            'data_preprocessor that the runner copies in) differs and is '
            'ignored.', logger='current', level=logging.WARNING)
    return built.data_preprocessor


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return dict(a) == dict(b)
    return a is b


def _describe(pre: Any) -> str:
    if isinstance(pre, dict):
        keys = ('type', 'size', 'size_divisor')
        return ', '.join(f'{k}={pre[k]!r}' for k in keys if k in pre)
    size = getattr(pre, 'size', None)
    return f'{type(pre).__name__}' + (f', size={size!r}' if size else '')


def build_distill_models(
        architecture: ModelArg, teacher: Optional[ModelArg],
        kwargs: Dict, owner: str) -> Tuple[BaseModel, Optional[BaseModel]]:
    """Build the student (and teacher) of a distillation algorithm.

    Dicts get ``_scope_='mmseg'`` when they name an MMSeg type without a
    scope (:func:`with_default_scope`), and ``kwargs['data_preprocessor']``
    is set, in place, to the architecture's own preprocessor
    (:func:`own_data_preprocessor`).

    Args:
        architecture: Student config or model.
        teacher: Teacher config or model; None for self-distillation.
        kwargs: The algorithm's remaining keyword arguments.
        owner: Algorithm name for messages.

    Returns:
        tuple: The built student and teacher (None when not given).
    """
    if isinstance(architecture, dict):
        architecture = with_default_scope(architecture, 'architecture')
        declared = architecture.get('data_preprocessor')
        architecture = RAZOR_MODELS.build(architecture)
    else:
        declared = getattr(architecture, 'data_preprocessor', None)
        if type(declared) is BaseDataPreprocessor:
            declared = None  # MMEngine's default: nothing declared
    kwargs['data_preprocessor'] = own_data_preprocessor(
        declared, architecture, kwargs.get('data_preprocessor'), owner)
    if isinstance(teacher, dict):
        teacher = RAZOR_MODELS.build(with_default_scope(teacher, 'teacher'))
    return architecture, teacher


#: MMRazor's hand-written distiller and the subclass it is built as.
_SEG_DISTILLERS = {'ConfigurableDistiller': 'SegConfigurableDistiller',
                   'mmrazor.ConfigurableDistiller': 'SegConfigurableDistiller'}


def seg_distiller_cfg(distiller: Any) -> Any:
    """A ``type='ConfigurableDistiller'`` dict as ``SegConfigurableDistiller``
    (same arguments, same checkpoint keys; losses see contiguous fp32
    records), any other distiller as it is."""
    if isinstance(distiller, dict) and \
            distiller.get('type') in _SEG_DISTILLERS:
        return dict(distiller, type=_SEG_DISTILLERS[distiller['type']])
    return distiller

