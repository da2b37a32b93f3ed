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
"""
import hashlib
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn as nn

__all__ = [
    'FILE_KIND', 'weights_sha256', 'teacher_attention_meta',
    'check_teacher_attention_meta', 'TeacherAttentionMismatch'
]

#: ``meta['kind']`` of a fitted teacher-attention file.
FILE_KIND = 'attnfd_teacher_attention'
_VERSION = 1


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
