# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Stage lists of stage distillers: parsing and the ``'auto'`` presets.

A *side* says where one model's feature is recorded,
``dict(name=<module>, record='outputs'|'inputs', data_idx=None|int)``; a
*stage* pairs a student side with a teacher side,
``dict(student=side, teacher=side, label=str)``.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch.nn as nn
from mmseg.models.decode_heads import DepthwiseSeparableASPPHead, PSPHead
from mmseg.models.decode_heads.decode_head import BaseDecodeHead

from .shape_probe import producing_module

__all__ = ['AUTO_PRESETS', 'StageSpec', 'make_side', 'parse_stages',
           'auto_stages']

StageSpec = Union[str, Sequence[str], Dict[str, Any]]

#: Stage roles used by ``stages='auto'`` for each head family.
AUTO_PRESETS = {
    'deeplabv3plus': ('backbone', 'context', 'decoder'),
    'pspnet': ('backbone', 'context'),
    'other': ('backbone', 'decoder'),
}
_RECORDS = ('outputs', 'inputs')
_STAGE_KEYS = ('student', 'teacher', 'record', 'student_record',
               'teacher_record', 'data_idx', 'student_data_idx',
               'teacher_data_idx')


def make_side(name: str, record: str = 'outputs',
              data_idx: Optional[int] = None,
              owner: str = 'StageDistiller') -> Dict[str, Any]:
    """``dict(name, record, data_idx)``; inputs default to ``data_idx=0``."""
    if record not in _RECORDS:
        raise ValueError(f'{owner}: record must be one of {_RECORDS} '
                         f'(module outputs or module inputs), got {record!r}.')
    if record == 'inputs' and data_idx is None:
        data_idx = 0
    return dict(name=name, record=record, data_idx=data_idx)


def _parse_stage(stage: StageSpec, index: int, owner: str) -> Dict[str, Any]:
    if isinstance(stage, str):
        side = make_side(stage, owner=owner)
        return dict(student=side, teacher=dict(side), label=stage)
    if isinstance(stage, (list, tuple)):
        if len(stage) != 2 or not all(isinstance(s, str) for s in stage):
            raise ValueError(
                f'{owner}: stage {index} is {stage!r}; a list entry '
                'must be a (student_module, teacher_module) pair of names, '
                "e.g. ('backbone.layer4', 'backbone.layer4').")
        return dict(student=make_side(stage[0], owner=owner),
                    teacher=make_side(stage[1], owner=owner), label=stage[0])
    if isinstance(stage, dict):
        unknown = sorted(set(stage) - set(_STAGE_KEYS))
        if unknown or 'student' not in stage or 'teacher' not in stage:
            raise ValueError(
                f'{owner}: stage {index} is {stage!r}; a dict entry '
                "needs 'student' and 'teacher' module names and may set "
                f'{_STAGE_KEYS[2:]}. Unknown keys: {unknown}.')
        sides = {
            who: make_side(
                stage[who],
                record=stage.get(f'{who}_record',
                                 stage.get('record', 'outputs')),
                data_idx=stage.get(f'{who}_data_idx', stage.get('data_idx')),
                owner=owner)
            for who in ('student', 'teacher')
        }
        return dict(**sides, label=stage['student'])
    raise TypeError(
        f'{owner}: stage {index} has type {type(stage).__name__}; '
        'use a module name, a (student, teacher) pair or a dict.')


def parse_stages(stages: Union[str, Sequence[StageSpec]],
                 owner: str = 'StageDistiller') -> Union[str, List[Dict]]:
    """``'auto'``, or every entry as ``dict(student, teacher, label)``.

    Entries are a module name used on both sides, a ``(student, teacher)``
    pair, or ``dict(student=..., teacher=..., record=..., data_idx=...)``
    (``record``/``data_idx`` also per side: ``student_record``, ...).

    Raises:
        ValueError: Not ``'auto'`` nor a non-empty list, or a bad entry.
    """
    if stages == 'auto':
        return 'auto'
    if isinstance(stages, (list, tuple)) and len(stages) > 0:
        return [_parse_stage(s, i, owner) for i, s in enumerate(stages)]
    raise ValueError(
        f"{owner}: stages must be 'auto' or a non-empty list "
        f'of stages, got {stages!r}.')


def _last_backbone_stage(model: nn.Module) -> Dict[str, Any]:
    """The side giving the backbone's deepest feature map."""
    backbone = model.backbone
    res_layers = getattr(backbone, 'res_layers', None)
    if isinstance(res_layers, (list, tuple)) and res_layers and all(
            isinstance(n, str) for n in res_layers):
        return make_side(f'backbone.{res_layers[-1]}')
    layers = getattr(backbone, 'layers', None)
    if isinstance(layers, (list, tuple)) and layers and all(
            isinstance(n, str) for n in layers):
        out_indices = getattr(backbone, 'out_indices', None)
        last = max(out_indices) if out_indices else len(layers) - 1
        return make_side(f'backbone.{layers[last]}')
    # one tensor in eval mode (maybe a tuple in training, as PIDNet's):
    # the submodule that computes it, which gives it in both modes
    source = producing_module(model, 'backbone')
    if source is not None:
        return make_side(source)
    # any other backbone: its last output
    return make_side('backbone', data_idx=-1)


def _auto_roles(model: nn.Module, who: str,
                owner: str) -> Tuple[str, Dict[str, Dict]]:
    head, prefix = getattr(model, 'decode_head', None), 'decode_head'
    if isinstance(head, nn.ModuleList) and len(head):
        # cascade (OCRNet, PointRend): its last stage gives the logits
        head, prefix = head[-1], f'decode_head.{len(head) - 1}'
    if not isinstance(head, BaseDecodeHead) or not hasattr(model,
                                                           'backbone'):
        raise ValueError(
            f"{owner}: stages='auto' needs an MMSeg segmentor with a "
            f'backbone and a decode_head, but the {who} is '
            f'{type(model).__name__} with decode_head '
            f'{type(head).__name__}. List the stages explicitly, e.g. '
            "stages=[('backbone.layer4', 'backbone.layer4')].")
    backbone = _last_backbone_stage(model)
    if isinstance(head, DepthwiseSeparableASPPHead):
        return 'deeplabv3plus', dict(
            backbone=backbone,
            context=make_side(f'{prefix}.bottleneck'),
            decoder=make_side(f'{prefix}.sep_bottleneck'))
    if isinstance(head, PSPHead):
        return 'pspnet', dict(
            backbone=backbone,
            context=make_side(f'{prefix}.bottleneck'),
            decoder=make_side(f'{prefix}.bottleneck'))
    if not isinstance(getattr(head, 'conv_seg', None), nn.Conv2d):
        raise ValueError(
            f"{owner}: stages='auto' pairs the input of the decode head's "
            f'conv_seg, but the {who}\'s {prefix} ({type(head).__name__}) '
            'has no conv_seg Conv2d; list the stages explicitly, e.g. '
            "stages=[('backbone', 'backbone')] with data_idx.")
    return 'other', dict(
        backbone=backbone, decoder=make_side(f'{prefix}.conv_seg',
                                             'inputs'))


def auto_stages(student: nn.Module, teacher: nn.Module,
                owner: str = 'AttnFDDistiller') -> List[Dict[str, Any]]:
    """Stage pairs of ``stages='auto'`` for a student/teacher segmentor.

    DeepLabV3+ (``DepthwiseSeparableASPPHead``): backbone last stage, ASPP
    output (``decode_head.bottleneck``), decoder features before the
    classifier (``decode_head.sep_bottleneck``). PSPNet (``PSPHead``):
    backbone last stage and ``decode_head.bottleneck``. Any other head:
    backbone last stage and the input of ``decode_head.conv_seg``. When the
    two models have different head families, the backbone and
    pre-classifier ('decoder') features are paired. A cascade segmentor
    (OCRNet, PointRend) is read at its last decode head.

    Args:
        student: The student segmentor.
        teacher: The teacher segmentor.
        owner: Distiller name used in error messages.

    Returns:
        list[dict]: ``dict(student=side, teacher=side, label=role)``; every
        side has ``auto=True`` (error messages then name no stage option
        the user did not write).
    """
    s_kind, s_roles = _auto_roles(student, 'student', owner)
    t_kind, t_roles = _auto_roles(teacher, 'teacher', owner)
    roles = AUTO_PRESETS[s_kind] if s_kind == t_kind else ('backbone',
                                                          'decoder')
    return [
        dict(student=dict(s_roles[r], auto=True),
             teacher=dict(t_roles[r], auto=True), label=r) for r in roles
    ]
