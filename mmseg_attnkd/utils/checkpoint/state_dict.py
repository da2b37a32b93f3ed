# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""State dicts of distillation checkpoints: select, compare, clean.

MMRazor's algorithms keep the student under ``architecture.``, the teacher
under ``teacher.`` and distillation modules under ``distiller.``. These
helpers select and rename parameters, compare them with a target model and
build the plain checkpoint dict that ``mmseg.apis.init_model`` and
``tools/test.py`` load. The student export, the axial teacher-output export
and publishing use them.
"""
from collections import OrderedDict
from typing import Dict, Iterable, List, NamedTuple, Optional

import torch

__all__ = [
    'STUDENT_PREFIX', 'TRAINING_STATE_KEYS', 'KEPT_META_KEYS', 'KeyReport',
    'get_state_dict', 'select_prefix', 'extract_student_state_dict',
    'compare_keys', 'make_plain_checkpoint', 'strip_training_state',
    'half_floats',
    'export_meta', 'student_state_dict_for'
]

STUDENT_PREFIX = 'architecture.'


class KeyReport(NamedTuple):
    """Result of comparing a state dict with a model's own keys."""
    missing: List[str]
    unexpected: List[str]
    shape_mismatch: List[str]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.shape_mismatch)

    def summary(self, limit: int = 5) -> str:
        parts = []
        for name, keys in (('missing', self.missing),
                           ('unexpected', self.unexpected),
                           ('shape-mismatched', self.shape_mismatch)):
            if keys:
                shown = ', '.join(keys[:limit])
                more = f' (+{len(keys) - limit} more)' \
                    if len(keys) > limit else ''
                parts.append(f'{len(keys)} {name}: {shown}{more}')
        return '; '.join(parts) if parts else 'all keys match'


def get_state_dict(checkpoint: dict) -> Dict[str, torch.Tensor]:
    """The state dict inside an MMEngine checkpoint (or the dict itself)."""
    if not isinstance(checkpoint, dict):
        raise TypeError('expected a checkpoint dict, got '
                        f'{type(checkpoint).__name__}')
    state = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state, dict) or not state:
        raise ValueError('the checkpoint holds no state_dict with tensors')
    return state


def select_prefix(state_dict: Dict[str, torch.Tensor],
                  prefix: str,
                  new_prefix: str = '') -> 'OrderedDict[str, torch.Tensor]':
    """Keep keys starting with ``prefix``; replace it by ``new_prefix``."""
    out = OrderedDict()
    for key, value in state_dict.items():
        if key.startswith(prefix):
            out[new_prefix + key[len(prefix):]] = value
    return out


def extract_student_state_dict(
        checkpoint: dict) -> 'OrderedDict[str, torch.Tensor]':
    """Student weights of an MMRazor distillation checkpoint.

    Raises:
        KeyError: No ``architecture.`` keys (not a distillation checkpoint).
    """
    state = get_state_dict(checkpoint)
    student = select_prefix(state, STUDENT_PREFIX)
    if not student:
        sample = ', '.join(list(state)[:3])
        raise KeyError(
            'no student weights (keys starting with "architecture.") in the '
            f'checkpoint; its first keys are: {sample}. Is it already a '
            'plain MMSeg checkpoint?')
    return student


def compare_keys(state_dict: Dict[str, torch.Tensor],
                 model: torch.nn.Module,
                 ignore: Iterable[str] = ()) -> KeyReport:
    """Compare ``state_dict`` with ``model.state_dict()`` (names and shapes).

    Args:
        state_dict: Candidate weights.
        model: Target model.
        ignore: Key prefixes to ignore on both sides.
    """
    ignore = tuple(ignore)
    def keep(key: str) -> bool:
        return not (ignore and key.startswith(ignore))

    own = {k: v for k, v in model.state_dict().items() if keep(k)}
    given = {k: v for k, v in state_dict.items() if keep(k)}
    missing = sorted(set(own) - set(given))
    unexpected = sorted(set(given) - set(own))
    mismatch = sorted(k for k in set(own) & set(given)
                      if tuple(own[k].shape) != tuple(given[k].shape))
    return KeyReport(missing, unexpected, mismatch)


def make_plain_checkpoint(state_dict: Dict[str, torch.Tensor],
                          meta: Optional[dict] = None) -> dict:
    """A checkpoint dict with only ``meta`` and ``state_dict``.

    Tensors are detached, moved to CPU and made contiguous, so the file
    holds no optimizer, message hub or scheduler state.
    """
    clean = OrderedDict(
        (k, v.detach().cpu().contiguous()) for k, v in state_dict.items())
    return dict(meta=dict(meta or {}), state_dict=clean)


def half_floats(state_dict: Dict[str, torch.Tensor]) -> 'OrderedDict':
    """``state_dict`` with its fp32/fp64 tensors stored as fp16.

    For releases: half the bytes, and ``load_state_dict`` copies them back
    into an fp32 model (integer buffers such as BN's
    ``num_batches_tracked`` stay as they are). Whether the accuracy holds
    is measured on the released file, not assumed.

    Raises:
        ValueError: A value exceeds the fp16 range (it would load as inf).
    """
    out = OrderedDict()
    for key, value in state_dict.items():
        if value.is_floating_point() and value.dtype != torch.float16:
            half = value.detach().to(torch.float16)
            if not torch.isfinite(half).all() and \
                    torch.isfinite(value).all():
                raise ValueError(
                    f'{key} holds values beyond the fp16 range (max |x| '
                    f'{value.abs().max().item():.3g}); publish without '
                    '--fp16.')
            value = half
        out[key] = value
    return out


#: Top-level checkpoint entries that only matter to resume training.
TRAINING_STATE_KEYS = ('optimizer', 'message_hub', 'param_schedulers',
                       'ema_state_dict', 'scheduler', 'amp', 'loss_scaler')

#: ``meta`` entries worth keeping in an exported checkpoint.
KEPT_META_KEYS = ('dataset_meta', 'mmengine_version', 'mmseg_version',
                  'seed', 'experiment_name', 'time', 'epoch', 'iter')


def strip_training_state(checkpoint: dict) -> dict:
    """A copy of ``checkpoint`` without optimizer, message hub and schedulers.

    Args:
        checkpoint: An MMEngine checkpoint dict.

    Returns:
        dict: ``meta`` and ``state_dict`` (and any other non-training
        entries); tensors are not copied.
    """
    if not isinstance(checkpoint, dict) or 'state_dict' not in checkpoint:
        raise ValueError('expected an MMEngine checkpoint with a '
                         '"state_dict" entry; got keys '
                         f'{sorted(checkpoint) if isinstance(checkpoint, dict) else type(checkpoint).__name__}')  # noqa: E501
    return {
        k: v
        for k, v in checkpoint.items() if k not in TRAINING_STATE_KEYS
    }


def export_meta(checkpoint: dict, **extra) -> dict:
    """The ``meta`` of an exported checkpoint.

    Keeps :data:`KEPT_META_KEYS` (notably ``dataset_meta``, which
    ``mmseg.apis.init_model`` reads for class names and palette), drops the
    training config text of the distillation run, and adds ``extra``.
    """
    meta = checkpoint.get('meta') or {}
    out = {k: meta[k] for k in KEPT_META_KEYS if k in meta}
    out.update({k: v for k, v in extra.items() if v is not None})
    return out


def student_state_dict_for(
        state_dict: Dict[str, torch.Tensor],
        model: torch.nn.Module) -> 'OrderedDict[str, torch.Tensor]':
    """Weights of a plain model from a plain or a distillation state dict.

    If ``model`` has no ``architecture.`` keys but ``state_dict`` does, the
    student part is selected; otherwise ``state_dict`` is returned as is.
    """
    own = model.state_dict()
    has_prefix = any(k.startswith(STUDENT_PREFIX) for k in state_dict)
    own_prefix = any(k.startswith(STUDENT_PREFIX) for k in own)
    if has_prefix and not own_prefix:
        return select_prefix(state_dict, STUDENT_PREFIX)
    return OrderedDict(state_dict)
