# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Turn distillation checkpoints into plain MMSeg checkpoints.

MMRazor's algorithms keep the student under ``architecture.``, the teacher
under ``teacher.`` and distillation modules under ``distiller.``. These
helpers select and rename parameters, compare them with a target model and
write a file that ``mmseg.apis.init_model`` and ``tools/test.py`` load.
Both the student export and the axial teacher-output export use them.
"""
import os
import os.path as osp
import tempfile
from collections import OrderedDict
from typing import Dict, Iterable, List, NamedTuple, Optional

import torch

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


def save_checkpoint_atomic(obj: dict, filename: str) -> str:
    """``torch.save`` to a temporary file in the same folder, then rename.

    An interruption never leaves a truncated file under ``filename``.
    """
    folder = osp.dirname(osp.abspath(filename))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.tmp-', suffix='.pth', dir=folder)
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, filename)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    return filename


def make_plain_checkpoint(state_dict: Dict[str, torch.Tensor],
                          meta: Optional[dict] = None) -> dict:
    """A checkpoint dict with only ``meta`` and ``state_dict``.

    Tensors are detached, moved to CPU and made contiguous, so the file
    holds no optimizer, message hub or scheduler state.
    """
    clean = OrderedDict(
        (k, v.detach().cpu().contiguous()) for k, v in state_dict.items())
    return dict(meta=dict(meta or {}), state_dict=clean)


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


def load_segmentor_weights(model: torch.nn.Module,
                           filename: str,
                           strict: bool = True) -> KeyReport:
    """Load a plain or distillation checkpoint into a plain segmentor.

    A distillation checkpoint contributes its student (``architecture.``).
    Loading is weights-only (:func:`load_checkpoint_safely`).

    Args:
        model: The segmentor.
        filename: ``.pth`` path.
        strict: Refuse when keys or shapes differ.

    Returns:
        KeyReport: How the file's keys matched the model's.

    Raises:
        ValueError: ``strict`` and the keys or shapes do not match.
    """
    from .checkpoint import load_checkpoint_safely
    checkpoint = load_checkpoint_safely(filename)
    state = student_state_dict_for(get_state_dict(checkpoint), model)
    report = compare_keys(state, model)
    if strict and not report.ok:
        raise ValueError(
            f'{filename} does not fit the model ({report.summary()}). Check '
            'that the config matches the checkpoint (same architecture, '
            'widths and num_classes).')
    shape_bad = set(report.shape_mismatch)
    model.load_state_dict(
        OrderedDict((k, v) for k, v in state.items() if k not in shape_bad),
        strict=False)
    dataset_meta = (checkpoint.get('meta') or {}).get('dataset_meta')
    if dataset_meta is not None:
        model.dataset_meta = dataset_meta
    return report


def convert_kd_checkpoint_to_student(src: str,
                                     dst: str,
                                     student: torch.nn.Module,
                                     force: bool = False,
                                     cfg_text: Optional[str] = None
                                     ) -> KeyReport:
    """Write the student of a distillation checkpoint as a plain checkpoint.

    Keeps only ``architecture.*`` weights (renamed to the MMSeg model's own
    names), drops teacher, distiller, optimizer, message hub and scheduler
    state, checks names and shapes against ``student`` and saves atomically.

    Args:
        src: Distillation checkpoint written by ``tools/train.py``.
        dst: Output ``.pth`` path.
        student: The student segmentor built from its config; only its
            state-dict keys and shapes are used.
        force: Write even if keys are missing/unexpected/mis-shaped.
        cfg_text: Student config text to store as ``meta['cfg']``.

    Returns:
        KeyReport: Comparison of the exported weights with ``student``.

    Raises:
        ValueError: The weights do not match ``student`` and not ``force``.
        KeyError: ``src`` holds no ``architecture.`` keys.
    """
    from .checkpoint import load_checkpoint_safely
    checkpoint = load_checkpoint_safely(src)
    state = extract_student_state_dict(checkpoint)
    report = compare_keys(state, student)
    if not report.ok and not force:
        raise ValueError(
            f'the student weights in {src} do not match the student model: '
            f'{report.summary()}. Check --student-config (same widths, '
            'heads and num_classes as in training) or pass --force to write '
            'the file anyway.')
    meta = export_meta(
        checkpoint, converted_from=osp.basename(src), cfg=cfg_text)
    save_checkpoint_atomic(make_plain_checkpoint(state, meta), dst)
    return report
