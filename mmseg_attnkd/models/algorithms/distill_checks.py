# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Build-time checks of a distillation setup, with errors that name a fix.

MMRazor asserts ``'"<source>" is not in the model.'`` deep inside recorder
initialisation, loads a teacher checkpoint with ``strict=False`` (missing
weights only produce a log warning) and compares logits of any shape. These
helpers check the same things up front and say what to change.
"""
from collections import OrderedDict
from typing import Dict, List, Mapping, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import nn

from mmseg_attnkd.utils.checkpoint import KeyReport
from ..distillers.module_names import closest_names_hint, module_names

__all__ = [
    'check_recorder_sources', 'check_logit_classes', 'load_teacher_weights',
    'logit_classes'
]

_MODULE_RECORDERS = ('ModuleOutputs', 'ModuleInputs')
_PARAM_RECORDERS = ('Parameter', )


def _recorder_kind(cfg: Mapping) -> str:
    """``'ModuleOutputs'`` for ``mmrazor.ModuleOutputsRecorder`` etc."""
    kind = str(cfg.get('type', ''))
    kind = kind.split('.')[-1]
    return kind[:-len('Recorder')] if kind.endswith('Recorder') else kind


def check_recorder_sources(recorders: Optional[Mapping[str, Mapping]],
                           model: nn.Module,
                           who: str,
                           model_desc: Optional[str] = None) -> None:
    """Check that every module/parameter recorder points into ``model``.

    Args:
        recorders: ``student_recorders`` or ``teacher_recorders`` of a
            distiller config (``name -> dict(type=..., source=...)``).
            Method/function recorders are not checked.
        model: The student or teacher.
        who: ``'student'`` or ``'teacher'`` (for the message).
        model_desc: How the message names ``model``; defaults to ``who``.

    Raises:
        ValueError: A source is not in ``model.named_modules()`` (or
            ``named_parameters()``); the message lists the closest names.
    """
    for rec_name, cfg in (recorders or {}).items():
        if not isinstance(cfg, Mapping):
            continue
        kind = _recorder_kind(cfg)
        source = cfg.get('source')
        if kind in _MODULE_RECORDERS:
            names = module_names(model)
            what = 'module'
        elif kind in _PARAM_RECORDERS:
            names = [n for n, _ in model.named_parameters()]
            what = 'parameter'
        else:
            continue
        if source in names:
            continue
        hint = closest_names_hint(str(source), names)
        raise ValueError(
            f'{who}_recorders.{rec_name} ({kind}) records source={source!r}, '
            f'which is not a {what} of the {model_desc or who} '
            f'({type(model).__name__}). {hint} '
            f'Fix: set source to a name from model.named_{what}s(), e.g. '
            "'decode_head.conv_seg'.")


def logit_classes(model: nn.Module, source: str) -> Optional[int]:
    """Number of classes if ``source`` outputs segmentation logits.

    Logit modules are a decode head's ``conv_seg`` classifier and decode
    heads themselves (whose output is ``conv_seg``'s). Anything else: None.
    """
    try:
        module = model.get_submodule(source)
    except AttributeError:
        return None
    if source.split('.')[-1] == 'conv_seg' and isinstance(module, nn.Conv2d):
        return int(module.out_channels)
    conv_seg = getattr(module, 'conv_seg', None)
    if isinstance(conv_seg, nn.Conv2d) and hasattr(module, 'loss_decode'):
        return int(conv_seg.out_channels)
    return None


def check_logit_classes(distiller_cfg: Mapping, student: nn.Module,
                        teacher: nn.Module) -> None:
    """Refuse losses that compare logits with different class counts.

    For every loss in ``loss_forward_mappings`` that reads a student and a
    teacher ``ModuleOutputs`` recorder without a connector, both on logit
    modules (see :func:`logit_classes`), the class counts must be equal.

    Raises:
        ValueError: The message names the loss, both sources and counts.
    """
    s_recs = distiller_cfg.get('student_recorders') or {}
    t_recs = distiller_cfg.get('teacher_recorders') or {}
    mappings = distiller_cfg.get('loss_forward_mappings') or {}
    for loss_name, args in mappings.items():
        sides: Dict[bool, List[Tuple[str, int]]] = {True: [], False: []}
        for arg in (args or {}).values():
            if not isinstance(arg, Mapping) or arg.get('connector'):
                continue
            from_student = bool(arg.get('from_student'))
            recs = s_recs if from_student else t_recs
            cfg = recs.get(arg.get('recorder'))
            if not isinstance(cfg, Mapping) or \
                    _recorder_kind(cfg) != 'ModuleOutputs':
                continue
            model = student if from_student else teacher
            n = logit_classes(model, str(cfg.get('source')))
            if n is not None:
                sides[from_student].append((cfg['source'], n))
        for s_src, s_n in sides[True]:
            for t_src, t_n in sides[False]:
                if s_n != t_n:
                    raise ValueError(
                        f'distill loss {loss_name!r} compares student logits '
                        f'{s_src!r} ({s_n} classes) with teacher logits '
                        f'{t_src!r} ({t_n} classes). Logit distillation '
                        '(CWD, KD) needs the same classes in the same order: '
                        f'give both decode heads num_classes={t_n} (train '
                        'the student on the teacher\'s label set) or use a '
                        'teacher trained on the student\'s dataset.')


def _strip_common_prefix(state: Dict[str, torch.Tensor],
                         prefix: str) -> Dict[str, torch.Tensor]:
    if state and all(k.startswith(prefix) for k in state):
        return OrderedDict((k[len(prefix):], v) for k, v in state.items())
    return state


def load_teacher_weights(teacher: nn.Module,
                         filename: str,
                         max_missing: float = 0.1) -> KeyReport:
    """Load ``teacher_ckpt`` weights-only, refusing a poor match.

    The file is read with :func:`~mmseg_attnkd.utils.load_checkpoint_safely`
    (weights-only, allow-list). Its state dict (a ``module.`` prefix of
    DataParallel checkpoints is removed) is compared with the teacher's.

    Args:
        teacher: The built teacher segmentor.
        filename: ``teacher_ckpt``.
        max_missing: Largest accepted fraction of the teacher's state-dict
            entries absent from the file (0.1 = 10 %). Unexpected extra keys
            (e.g. an auxiliary head the teacher config lacks) are only
            logged.

    Returns:
        KeyReport: How the file matched the teacher.

    Raises:
        FileNotFoundError: ``filename`` does not exist.
        ValueError: The file is empty, truncated or not a checkpoint; it
            holds no state dict; more than ``max_missing`` of the teacher's
            keys are missing; or shapes differ (wrong depth, width or
            ``num_classes``).
        UnsafeCheckpointError: The file pickles objects outside the
            allow-list.
    """
    from mmseg_attnkd.utils import (compare_keys, get_state_dict,
                                    load_checkpoint_safely)
    if not 0.0 <= float(max_missing) <= 1.0:
        raise ValueError(
            f'teacher_ckpt_max_missing must be a fraction in [0, 1], got '
            f'{max_missing!r}.')
    checkpoint = load_checkpoint_safely(filename)
    try:
        state = get_state_dict(checkpoint)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f'teacher_ckpt {filename!r} holds no model weights ({err}). '
            'Point teacher_ckpt to the .pth file of the trained teacher '
            '(an MMSeg checkpoint with a "state_dict").') from None
    state = _strip_common_prefix(dict(state), 'module.')
    report = compare_keys(state, teacher)
    own = teacher.state_dict()
    total = max(len(own), 1)
    first = ', '.join(list(state)[:3])
    hint = ''
    if any(k.startswith('architecture.') for k in state):
        hint = (' The file is a distillation checkpoint (keys start with '
                '"architecture."): export its student with '
                'tools/model_converters/convert_kd_ckpt_to_student.py, or '
                'use the teacher\'s own MMSeg checkpoint.')
    if report.shape_mismatch:
        details = '; '.join(
            f'{k}: file {tuple(state[k].shape)} vs teacher '
            f'{tuple(own[k].shape)}' for k in report.shape_mismatch[:3])
        raise ValueError(
            f'teacher_ckpt {filename!r} does not fit the teacher: '
            f'{len(report.shape_mismatch)} weights have another shape '
            f'({details}). Make the teacher config match the checkpoint '
            '(backbone depth, channels, num_classes of every head).' + hint)
    ratio = len(report.missing) / total
    if ratio > max_missing:
        raise ValueError(
            f'teacher_ckpt {filename!r} does not match the teacher: '
            f'{len(report.missing)} of {total} teacher weights are missing '
            f'from it ({ratio:.0%} > teacher_ckpt_max_missing='
            f'{max_missing:.0%}); first missing: '
            f'{", ".join(report.missing[:3])}; the file\'s first keys: '
            f'{first}. Use the checkpoint trained with this teacher config '
            '(same architecture) or raise teacher_ckpt_max_missing.' + hint)
    if not report.ok:
        print_log(
            f'teacher_ckpt {filename}: {report.summary()} (accepted: '
            f'{ratio:.1%} missing <= {max_missing:.0%}).',
            logger='current', level=30)
    teacher.load_state_dict(
        OrderedDict((k, v) for k, v in state.items() if k in own),
        strict=False)
    print_log(f'Loaded teacher weights from {filename}', logger='current')
    return report

