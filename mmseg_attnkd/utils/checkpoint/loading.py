# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Weights-only checkpoint loading with clear errors.

Every checkpoint this project reads (teacher weights, resume, converters,
demo) goes through :func:`load_checkpoint_safely` or through MMEngine's
loader, which, with :mod:`mmseg_attnkd.compat` active, also loads
weights-only (``compat.torch_load``) against the same allow-list. A pickle that
references anything else (for example a ``__reduce__`` that would run a
command) is refused before any of it executes.
"""
import os
import os.path as osp
import pickle
import zipfile
from typing import Any, Optional, Union

import torch

from ...compat import (TRUST_UNSAFE_ENV_VAR, TRUSTED_CHECKPOINT_GLOBALS,
                       enable_safe_checkpoint_loading, torch_load)
from .state_dict import (KeyReport, compare_keys, get_state_dict,
                         student_state_dict_for)

__all__ = [
    'load_checkpoint_safely', 'UnsafeCheckpointError',
    'TRUSTED_CHECKPOINT_GLOBALS', 'load_segmentor_weights'
]

#: Set to ``1`` to unpickle arbitrary objects (UNSAFE; legacy files only).
TRUST_ENV_VAR = TRUST_UNSAFE_ENV_VAR


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint references objects outside the allow-list."""


def load_checkpoint_safely(filename: Union[str, os.PathLike],
                           map_location: Optional[Union[str,
                                                       torch.device]] = 'cpu',
                           allow_unsafe: bool = False) -> Any:
    """Load a ``.pth`` file weights-only, with errors that name the fix.

    Args:
        filename: Local path of the checkpoint.
        map_location: Device mapping, as in torch's loader.
        allow_unsafe: Unpickle arbitrary objects (full pickle loading).
            UNSAFE: a malicious file can run code on this machine. Also
            enabled by the environment variable
            ``MMSEG_ATTNKD_TRUST_UNSAFE_CHECKPOINTS=1``. Use only for legacy
            files from a source you trust.

    Returns:
        Whatever the file holds (usually a dict with ``state_dict``).

    Raises:
        FileNotFoundError: The path does not exist or is not a file.
        ValueError: The file is empty, truncated or not a torch checkpoint.
        UnsafeCheckpointError: The file pickles an object outside the
            allow-list (see :data:`TRUSTED_CHECKPOINT_GLOBALS`).
    """
    filename = os.fspath(filename)
    if not osp.exists(filename):
        raise FileNotFoundError(
            f'checkpoint {filename!r} does not exist: check the path (for a '
            'teacher, set teacher_ckpt in the config to a local .pth file).')
    if not osp.isfile(filename):
        raise FileNotFoundError(
            f'checkpoint {filename!r} is a directory, not a .pth file.')
    if osp.getsize(filename) == 0:
        raise ValueError(f'checkpoint {filename!r} is empty (0 bytes): the '
                         'download or save was interrupted; fetch it again.')
    enable_safe_checkpoint_loading()
    try:
        return torch_load(filename, map_location, allow_unsafe=allow_unsafe)
    except pickle.UnpicklingError as err:
        if 'Weights only load failed' in str(err) or 'Unsupported global' \
                in str(err):
            raise UnsafeCheckpointError(
                f'refused to load {filename!r}: it pickles objects outside '
                'the allow-list of tensors, numpy arrays and MMEngine '
                f'logging buffers ({_first_line(err)}). If the file comes '
                'from a source you fully trust, re-save its state_dict, or '
                f'load it with allow_unsafe=True / {TRUST_ENV_VAR}=1 '
                '(UNSAFE: runs arbitrary code).') from None
        raise ValueError(f'checkpoint {filename!r} is corrupt: {err}') from err
    except (RuntimeError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(
            f'checkpoint {filename!r} could not be read ({_first_line(err)}); '
            'it is truncated or not a torch checkpoint. Re-download or '
            're-save it.') from err


def _first_line(err: BaseException) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    for ln in lines:
        # torch's "Unsupported global" line, or the refusal of one of the
        # restricted stand-ins of compat (getattr, bytes)
        if 'GLOBAL' in ln or 'Unsupported' in ln or ln.startswith('refused'):
            return ln
    return lines[0] if lines else type(err).__name__


def load_segmentor_weights(model: torch.nn.Module,
                           filename: str,
                           strict: bool = True,
                           hint: str = 'Check that the config matches the '
                           'checkpoint (same architecture, widths and '
                           'num_classes).') -> KeyReport:
    """Load a checkpoint into a model, weights-only, names and shapes checked.

    A distillation checkpoint loaded into a plain segmentor contributes its
    student (``architecture.``); loaded into the distillation model itself,
    it is used as is. ``dataset_meta`` of the checkpoint is set on the model.

    Args:
        model: A segmentor or a distillation algorithm.
        filename: ``.pth`` path.
        strict: Refuse when keys or shapes differ; otherwise load what fits.
        hint: The fix the error message suggests.

    Returns:
        KeyReport: How the file's keys matched the model's.

    Raises:
        ValueError: ``strict`` and the keys or shapes do not match.
    """
    checkpoint = load_checkpoint_safely(filename)
    state = student_state_dict_for(get_state_dict(checkpoint), model)
    report = compare_keys(state, model)
    if strict and not report.ok:
        raise ValueError(
            f'{filename} does not fit the model ({report.summary()}). {hint}')
    shape_bad = set(report.shape_mismatch)
    model.load_state_dict(
        {k: v for k, v in state.items() if k not in shape_bad}, strict=False)
    dataset_meta = (checkpoint.get('meta') or {}).get('dataset_meta')
    if dataset_meta is not None:
        model.dataset_meta = dataset_meta
    return report
