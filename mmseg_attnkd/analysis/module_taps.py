# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Find where to tap features of a segmentor for distillation.

A *tap* is a module whose output (or, for ``conv_seg``, whose input) a
MMRazor recorder can record: ``ModuleOutputs``/``ModuleInputs`` with
``source='<module name>'``. :func:`inspect_taps` runs one dummy forward
through a teacher and a student and reports the shapes at every candidate,
so stage lists for AttnFD can be written without reading model code.

Shapes come from the stage distillers' own probe
(:func:`~mmseg_attnkd.models.distillers.record_sides`, MMRazor's
recorders), names are checked with their closest-name hint; a tap name is
the display form of a distiller *side* (``'x:input'`` is
``dict(name='x', record='inputs')``).
"""
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Sequence, Tuple, Union

import torch
import torch.nn as nn

from mmseg_attnkd.models.distillers import (auto_stages, closest_names_hint,
                                            module_names, record_sides)

__all__ = [
    'INPUT_SUFFIX', 'ModuleNotFound', 'get_module', 'candidate_taps',
    'record_tap_shapes', 'TapRow', 'inspect_taps', 'format_tap_table',
    'suggest_attnfd_stages', 'format_stage_snippet'
]

#: Appended to a module name to mean "the input of this module".
INPUT_SUFFIX = ':input'

#: decode_head children that are not features (loss, classifier, dropout).
_HEAD_SKIP = ('loss_decode', 'conv_seg', 'dropout', 'sampler')


class ModuleNotFound(KeyError):
    """A module name that the model does not have."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ''


def get_module(model: nn.Module, name: str) -> nn.Module:
    """``model``'s submodule called ``name`` (dotted path).

    Raises:
        ModuleNotFound: No such module; the message lists the closest
            existing names (difflib).
    """
    base = _tap_side(name)['name']
    modules = dict(model.named_modules())
    if base in modules and base:
        return modules[base]
    hint = closest_names_hint(base, module_names(model))
    raise ModuleNotFound(
        f'module {base!r} does not exist in {type(model).__name__}. {hint} '
        'Run tools/analysis/kd_inspect.py to list the candidates.')


def _expand(prefix: str, module: nn.Module) -> List[str]:
    """Direct children; a ModuleList (no forward of its own) is expanded."""
    out = []
    for child_name, child in module.named_children():
        full = f'{prefix}.{child_name}'
        if type(child) is nn.ModuleList:
            out.extend(f'{full}.{i}' for i in range(len(child)))
        else:
            out.append(full)
    return out


def candidate_taps(model: nn.Module) -> List[str]:
    """Candidate tap names of an MMSeg segmentor.

    Backbone stages (``res_layers`` of ResNets, else the backbone's direct
    children), the neck and its children, ``decode_head`` submodules
    (except loss, classifier and dropout) and the input of
    ``decode_head.conv_seg`` (the last feature before classification).
    """
    names: List[str] = []
    backbone = getattr(model, 'backbone', None)
    if backbone is not None:
        stages = getattr(backbone, 'res_layers', None)
        if stages and all(hasattr(backbone, s) for s in stages):
            names.extend(f'backbone.{s}' for s in stages)
        else:
            names.extend(_expand('backbone', backbone))
    neck = getattr(model, 'neck', None)
    if isinstance(neck, nn.Module):
        names.append('neck')
        names.extend(_expand('neck', neck))
    head = getattr(model, 'decode_head', None)
    if isinstance(head, nn.Module):
        names.extend(n for n in _expand('decode_head', head)
                     if n.split('.')[1] not in _HEAD_SKIP)
        if isinstance(getattr(head, 'conv_seg', None), nn.Module):
            names.append('decode_head.conv_seg' + INPUT_SUFFIX)
    if not names:
        raise ValueError(
            f'{type(model).__name__} has no backbone/neck/decode_head; '
            'kd_inspect expects an MMSeg segmentor (e.g. EncoderDecoder).')
    return names


Shape = Union[Tuple[int, ...], List[Tuple[int, ...]], str, None]


def _shape_of(value) -> Shape:
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, (list, tuple)):
        shapes = [_shape_of(v) for v in value]
        return shapes[0] if len(shapes) == 1 else shapes
    return type(value).__name__


def record_tap_shapes(model: nn.Module,
                      names: Sequence[str],
                      input_shape: Tuple[int, int] = (512, 512),
                      batch_size: int = 1) -> 'OrderedDict[str, Shape]':
    """Output shape of each named module (input for ``name:input``) in one
    eval-mode forward of a ``[batch_size, 3, H, W]`` random tensor (the
    distillers' channel probe, auxiliary heads included).

    Modules that did not run give None.
    """
    for name in names:
        get_module(model, name)
    records = record_sides(model, [_tap_side(n) for n in names],
                           input_shape, batch_size)
    return OrderedDict(
        (n, None if r is None else _shape_of(r))
        for n, r in zip(names, records))


class TapRow(NamedTuple):
    """One candidate tap with the shapes on both models."""
    name: str
    teacher: Shape
    student: Shape


def inspect_taps(teacher: nn.Module,
                 student: nn.Module,
                 input_shape: Tuple[int, int] = (512, 512),
                 extra: Sequence[str] = ()) -> List[TapRow]:
    """Shapes of the union of both models' candidates (plus ``extra``).

    Raises:
        ModuleNotFound: A name in ``extra`` exists in neither model.
    """
    names = list(OrderedDict.fromkeys(
        candidate_taps(teacher) + candidate_taps(student)))
    for name in extra:
        errors = []
        for model in (teacher, student):
            try:
                get_module(model, name)
            except ModuleNotFound as err:
                errors.append(err)
        if len(errors) == 2:
            raise errors[0]
        if name not in names:
            names.append(name)

    def shapes(model):
        own = [n for n in names if _exists(model, n)]
        return record_tap_shapes(model, own, input_shape)

    t_shapes, s_shapes = shapes(teacher), shapes(student)
    return [TapRow(n, t_shapes.get(n), s_shapes.get(n)) for n in names]


def _exists(model: nn.Module, name: str) -> bool:
    try:
        get_module(model, name)
        return True
    except ModuleNotFound:
        return False


def _fmt(shape: Shape) -> str:
    if shape is None:
        return '-'
    if isinstance(shape, tuple):
        return 'x'.join(str(s) for s in shape)
    if isinstance(shape, list):
        return ', '.join(_fmt(s) for s in shape)
    return str(shape)


def format_tap_table(rows: Sequence[TapRow],
                     suggested: Sequence[str] = ()) -> str:
    """A fixed-width text table: module, teacher shape, student shape."""
    header = ('module', 'teacher output', 'student output', '')
    body = [(r.name, _fmt(r.teacher), _fmt(r.student),
             '<- suggested' if r.name in suggested else '') for r in rows]
    widths = [max(len(str(x[i])) for x in [header] + body)
              for i in range(4)]
    lines = ['  '.join(str(c).ljust(w) for c, w in zip(header, widths))
             .rstrip(),
             '  '.join('-' * w for w in widths[:3])]
    lines += ['  '.join(str(c).ljust(w) for c, w in zip(row, widths))
              .rstrip() for row in body]
    return '\n'.join(lines)


def _is_feature(shape: Shape) -> bool:
    return isinstance(shape, tuple) and len(shape) == 4


def _tap_name(side: dict) -> str:
    """``'x:input'`` for ``dict(name='x', record='inputs')``."""
    name = side['name']
    return name + INPUT_SUFFIX if side.get('record') == 'inputs' else name


def _tap_side(name: str) -> dict:
    """``dict(name='x', record='inputs')`` for ``'x:input'``."""
    if name.endswith(INPUT_SUFFIX):
        return dict(name=name[:-len(INPUT_SUFFIX)], record='inputs')
    return dict(name=name, record='outputs')


def suggest_attnfd_stages(teacher: nn.Module, student: nn.Module,
                          rows: Sequence[TapRow]) -> List[Dict]:
    """AttnFD stages for a teacher/student pair, with their shapes.

    The suggestion is what ``AttnFDDistiller(stages='auto')`` resolves to
    (:func:`~mmseg_attnkd.models.distillers.auto_stages`:
    deepest backbone stage plus the context/decoder features of the head).
    For heads that preset does not know, the deepest backbone stage and the
    input of ``decode_head.conv_seg`` present in both models are used.

    Returns:
        list[dict]: ``dict(label, student, teacher, record, student_shape,
        teacher_shape)`` per stage (``record`` is ``'outputs'`` or
        ``'inputs'``).
    """
    shapes = {r.name: r for r in rows}
    try:
        pairs = auto_stages(student, teacher)
    except ValueError:
        pairs = []
        stages = [r for r in rows if r.name.startswith('backbone.')
                  and _is_feature(r.teacher) and _is_feature(r.student)]
        if stages:
            pairs.append(dict(label='backbone',
                              student=dict(name=stages[-1].name),
                              teacher=dict(name=stages[-1].name)))
        head = 'decode_head.conv_seg' + INPUT_SUFFIX
        if head in shapes and _is_feature(shapes[head].teacher) and \
                _is_feature(shapes[head].student):
            side = dict(name='decode_head.conv_seg', record='inputs')
            pairs.append(dict(label='decoder', student=side, teacher=side))
    out = []
    for pair in pairs:
        s_tap, t_tap = _tap_name(pair['student']), _tap_name(pair['teacher'])
        out.append(dict(
            label=pair.get('label', s_tap),
            student=pair['student']['name'],
            teacher=pair['teacher']['name'],
            record=pair['student'].get('record') or 'outputs',
            student_tap=s_tap,
            teacher_tap=t_tap,
            student_shape=shapes[s_tap].student if s_tap in shapes else None,
            teacher_shape=shapes[t_tap].teacher if t_tap in shapes else None))
    return out


def format_stage_snippet(stages: Sequence[Dict]) -> str:
    """The stages as a config snippet for ``AttnFDDistiller``."""
    lines = ['model = dict(', '    distiller=dict(',
             "        type='AttnFDDistiller',", '        stages=[']
    for stage in stages:
        comment = (f"  # {stage['label']}: student "
                   f"{_fmt(stage['student_shape'])} -> teacher "
                   f"{_fmt(stage['teacher_shape'])}")
        if stage['record'] == 'inputs' or stage['student'] != \
                stage['teacher']:
            extra = ", record='inputs'" if stage['record'] == 'inputs' \
                else ''
            item = (f"dict(student='{stage['student']}', "
                    f"teacher='{stage['teacher']}'{extra}),")
        else:
            item = f"'{stage['student']}',"
        lines.append(f'            {item}{comment}')
    lines += ['        ],',
              '        # the default attention, fitted on the trained teacher',
              '        # by `python tools/fit_teacher_attention.py CONFIG` and',
              '        # read from where that writes it',
              "        teacher_attention='fitted'))"]
    return '\n'.join(lines)
