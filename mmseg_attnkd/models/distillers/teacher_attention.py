# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Files of fitted AttnFD teacher attention: what they hold and their checks.

A fitted file (written by ``tools/fit_teacher_attention.py``) is a dict::

    dict(state_dict={'attnfd_{i}_teacher.cbam.<param>': Tensor, ...},
         meta=dict(kind='attnfd_teacher_attention', version=1,
                   teacher_sha256=..., stages=[dict(name, record, data_idx,
                   channels), ...], cbam=dict(reduction, kernel_size,
                   min_hidden, spatial_norm), fitted=dict(...)))

Only plain Python values and tensors are stored, so it loads weights-only.
The distiller refuses a file fitted for another teacher, other stages,
other channel counts or another CBAM shape, naming the mismatch.

The fit belongs to the teacher's weights and the stage set, not to a
config file, so its default place is keyed by them
(:func:`default_teacher_attention_path`): every config that distils from
the same teacher at the same stages finds the one fit, and no config has
to name it.
"""
import hashlib
import json
import os.path as osp
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log

__all__ = [
    'FILE_KIND', 'TEACHER_ATTENTION_CHOICES', 'weights_sha256',
    'teacher_attention_meta', 'check_teacher_attention_meta',
    'TeacherAttentionMismatch', 'resolve_teacher_attention',
    'default_teacher_attention_path', 'load_teacher_attention_file'
]

#: ``meta['kind']`` of a fitted teacher-attention file.
FILE_KIND = 'attnfd_teacher_attention'
_VERSION = 1
#: Folder (relative to the working directory, like MMSeg's ``work_dirs``)
#: of the fits at their default place.
FITTED_ROOT = osp.join('work_dirs', 'fit_teacher_attention')

#: ``teacher_attention`` choices: CBAM weights fitted on the frozen teacher
#: (``tools/fit_teacher_attention.py``), a fixed random CBAM, or the
#: parameter-free CBAM of the public code. ``'frozen'`` is the former name
#: of the two fixed-weight modes (fitted when a file is given).
TEACHER_ATTENTION_CHOICES = ('fitted', 'random', 'parameter_free', 'frozen')


class TeacherAttentionMismatch(ValueError):
    """A fitted teacher-attention file does not fit this distillation."""


def weights_sha256(model: nn.Module) -> str:
    """SHA-256 of a model's parameters and buffers (names, dtypes, values).

    Independent of the file the weights came from, so a teacher loaded
    from a copied or re-saved checkpoint has the same digest.
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _stage_entry(side: Dict[str, Any], channels: int) -> Dict[str, Any]:
    return dict(
        name=side['name'],
        record=side['record'],
        data_idx=side['data_idx'],
        channels=int(channels))


def teacher_attention_meta(teacher: nn.Module,
                           sides: Sequence[Dict[str, Any]],
                           channels: Sequence[int],
                           cbam: Dict[str, Any],
                           fitted: Optional[Dict[str, Any]] = None) -> Dict:
    """The ``meta`` dict of a fitted file (see the module docstring).

    Args:
        teacher: The frozen teacher the attention was fitted on.
        sides: Teacher side of every stage, ``dict(name, record, data_idx)``.
        channels: Teacher channels of every stage.
        cbam: CBAM settings (``reduction``, ``kernel_size``,
            ``min_hidden``, ``spatial_norm``).
        fitted: Free-form record of the fit (iterations, config, ...).
    """
    return dict(
        kind=FILE_KIND,
        version=_VERSION,
        teacher_sha256=weights_sha256(teacher),
        stages=[_stage_entry(s, c) for s, c in zip(sides, channels)],
        cbam=dict(cbam),
        fitted=dict(fitted or {}))


def default_teacher_attention_path(teacher: nn.Module,
                                   sides: Sequence[Dict[str, Any]],
                                   channels: Sequence[int],
                                   cbam: Dict[str, Any]) -> str:
    """Where ``tools/fit_teacher_attention.py`` writes a fit by default and
    where ``teacher_attention='fitted'`` without a file reads it:
    ``work_dirs/fit_teacher_attention/<teacher>-<stages>/
    teacher_attention.pth``, ``<teacher>`` the first 12 hex digits of the
    teacher's :func:`weights_sha256`, ``<stages>`` 8 of the stage set's and
    CBAM options' digest (arguments as :func:`teacher_attention_meta`).
    """
    layout = json.dumps(
        dict(stages=[_stage_entry(s, c) for s, c in zip(sides, channels)],
             cbam=dict(cbam)), sort_keys=True)
    key = (f'{weights_sha256(teacher)[:12]}-'
           f'{hashlib.sha256(layout.encode()).hexdigest()[:8]}')
    return osp.join(FITTED_ROOT, key, 'teacher_attention.pth')


def check_teacher_attention_meta(meta: Dict[str, Any], path: str,
                                 teacher: nn.Module,
                                 sides: Sequence[Dict[str, Any]],
                                 channels: Sequence[int],
                                 cbam: Dict[str, Any]) -> None:
    """Refuse a fitted file that was made for another set-up.

    Raises:
        TeacherAttentionMismatch: One line naming the first difference and
            the command that makes a matching file.
    """
    fix = ('fit it again for this config with `python '
           'tools/fit_teacher_attention.py CONFIG`')
    if meta.get('kind') != FILE_KIND:
        raise TeacherAttentionMismatch(
            f'teacher_attention_ckpt {path!r} is not a fitted teacher-'
            f'attention file (meta kind {meta.get("kind")!r}); {fix}.')
    want: List[Dict[str, Any]] = [
        _stage_entry(s, c) for s, c in zip(sides, channels)
    ]
    have = list(meta.get('stages', []))
    if len(have) != len(want):
        raise TeacherAttentionMismatch(
            f'teacher_attention_ckpt {path!r} was fitted for {len(have)} '
            f'stages, this distiller has {len(want)}; {fix}.')
    for i, (h, w) in enumerate(zip(have, want)):
        for key in ('name', 'record', 'data_idx', 'channels'):
            if h.get(key) != w[key]:
                raise TeacherAttentionMismatch(
                    f'teacher_attention_ckpt {path!r} stage {i} was fitted '
                    f'with {key}={h.get(key)!r}, this distiller has '
                    f'{key}={w[key]!r}; {fix}.')
    for key, value in cbam.items():
        if meta.get('cbam', {}).get(key) != value:
            raise TeacherAttentionMismatch(
                f'teacher_attention_ckpt {path!r} holds CBAMs with {key}='
                f'{meta.get("cbam", {}).get(key)!r}, the distiller builds '
                f'{key}={value!r}; set the same CBAM options or {fix}.')
    digest = weights_sha256(teacher)
    if meta.get('teacher_sha256') != digest:
        raise TeacherAttentionMismatch(
            f'teacher_attention_ckpt {path!r} was fitted on another teacher '
            f'(weights sha256 {str(meta.get("teacher_sha256"))[:12]}..., '
            f'this teacher {digest[:12]}...); {fix}.')


def teacher_state_dict(connectors: Dict[str, nn.Module],
                       names: Sequence[str]) -> 'OrderedDict[str, Any]':
    """``{'<connector>.cbam.<param>': tensor}`` of the named connectors."""
    out = OrderedDict()
    for name in names:
        for key, value in connectors[name].state_dict().items():
            out[f'{name}.{key}'] = value.detach().cpu().clone()
    return out


def save_teacher_attention(path: str, state_dict: Dict[str, torch.Tensor],
                           meta: Dict[str, Any]) -> str:
    """Write a fitted file atomically (see the module docstring)."""
    from mmseg_attnkd.utils import save_checkpoint_atomic
    save_checkpoint_atomic(dict(state_dict=state_dict, meta=meta), path)
    return path


def resolve_teacher_attention(mode: str, ckpt: Optional[str],
                              owner: str = 'AttnFDDistiller') -> str:
    """The teacher-attention mode after checking it against the file.

    ``'frozen'`` becomes ``'fitted'`` with a file and ``'random'`` without.
    ``'fitted'`` without a file reads the fit at its default place
    (:func:`default_teacher_attention_path`) once the teacher is known.

    Raises:
        ValueError: Unknown mode, or a file with another mode.
    """
    if mode not in TEACHER_ATTENTION_CHOICES:
        raise ValueError(
            f'{owner}: teacher_attention must be one of '
            f'{TEACHER_ATTENTION_CHOICES[:3]}, got {mode!r}.')
    if mode == 'frozen':
        mode = 'fitted' if ckpt else 'random'
    if ckpt and mode != 'fitted':
        raise ValueError(
            f'{owner}: teacher_attention_ckpt is only used with '
            f"teacher_attention='fitted', not {mode!r}; "
            'remove the path or switch the mode.')
    return mode


def _connector_state(state: Dict[str, Any], name: str) -> 'OrderedDict':
    """Entries ``<name>.<key>`` (optionally prefixed) as ``<key>``."""
    marker = f'{name}.'
    sub = OrderedDict()
    for key, value in state.items():
        if key.startswith(marker):
            sub[key[len(marker):]] = value
        elif f'.{marker}' in key:
            sub[key.split(f'.{marker}', 1)[1]] = value
    return sub


def load_teacher_attention_file(path: str, distiller: nn.Module,
                                teacher: Optional[nn.Module] = None,
                                default: bool = False) -> None:
    """Load teacher CBAM weights into an AttnFD distiller's connectors.

    Args:
        path: A fitted file, or any checkpoint holding
            ``attnfd_{i}_teacher.cbam.*`` keys (optionally prefixed).
        distiller: A built ``AttnFDDistiller`` (its ``stages``,
            ``connectors``, ``teacher_connector_names``, ``cbam_options``).
        teacher: The teacher model; needed to check a fitted file's
            teacher digest.
        default: ``path`` is the default place of this teacher's fit (the
            message for a missing file says so).

    Raises:
        FileNotFoundError: ``path`` does not exist (not fitted yet).
        TeacherAttentionMismatch: A fitted file made for another teacher,
            other stages, channels or CBAM options.
        KeyError: The file has no weights for a teacher connector.
        ValueError: Shapes do not match the teacher's channels.
    """
    from mmseg_attnkd.utils import get_state_dict, load_checkpoint_safely
    if not osp.isfile(path) and default:
        raise FileNotFoundError(
            "teacher_attention='fitted' found no fit of this teacher and "
            f'these stages at {path!r} (relative to the working directory); '
            'fit it first with `python tools/fit_teacher_attention.py '
            'CONFIG` (it writes there), pass another file as '
            "teacher_attention_ckpt, or set teacher_attention='parameter_free'"
            ' (no fitting).')
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'teacher_attention_ckpt {path!r} does not exist; fit it first '
            f'with `python tools/fit_teacher_attention.py CONFIG --out {path}`'
            ", or set teacher_attention='parameter_free' and "
            'teacher_attention_ckpt=None (no fitting).')
    ckpt = load_checkpoint_safely(path)
    meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
    if isinstance(meta, dict) and 'kind' in meta:
        if teacher is None:
            raise ValueError('load_teacher_attention needs the teacher '
                             'to check a fitted file.')
        check_teacher_attention_meta(
            meta, path, teacher, [s['teacher'] for s in distiller.stages],
            [s['teacher_channels'] for s in distiller.stages],
            distiller.cbam_options)
    state = get_state_dict(ckpt)
    for name in distiller.teacher_connector_names:
        conn = distiller.connectors[name]
        sub = _connector_state(state, name)
        if not sub:
            expected = [f'{name}.{k}' for k in conn.state_dict()]
            raise KeyError(
                f'teacher_attention_ckpt {path!r} has no weights for '
                f'{name}; expected keys like {expected[:2]} (optionally '
                f'prefixed), found e.g. {list(state)[:3]}. Make one with '
                'tools/fit_teacher_attention.py.')
        try:
            conn.load_state_dict(sub, strict=True)
        except RuntimeError as err:
            opts = distiller.cbam_options
            raise ValueError(
                f'teacher_attention_ckpt {path!r} does not fit {name} '
                f'({conn.cbam.channels} channels, reduction '
                f'{opts["reduction"]}, kernel {opts["kernel_size"]}): '
                f'{str(err).splitlines()[0]} Use a file saved for the '
                'same teacher and stages.') from err
    print_log(f'AttnFD: loaded teacher attention from {path}',
              logger='current')
