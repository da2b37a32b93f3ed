# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Reduced-precision helpers shared by the algorithms and the distillers.

A frozen teacher only runs inference, so it can run under
``torch.autocast`` (bf16 on CPUs with ``avx512_bf16``/AMX, fp16 or bf16 on
CUDA) while the student trains in fp32; and under MMEngine's
``AmpOptimWrapper`` the whole loss runs under autocast. Either way the
distillation losses should see fp32 tensors: :func:`to_float32` casts
nested records, :func:`autocast_disabled` turns autocast off around a loss.
"""
import contextlib
import functools
from typing import Any, Iterator, Optional

import torch

__all__ = ['PRECISIONS', 'AUTO', 'check_precision', 'precision_dtype',
           'native_cpu_bf16', 'resolve_precision', 'to_float32',
           'autocast_enabled', 'autocast_disabled', 'autocast_for']

#: Names accepted by ``teacher_precision``; ``'fp32'`` means no autocast.
PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}

#: ``teacher_precision`` chosen by the hardware (:func:`resolve_precision`).
AUTO = 'auto'

#: CPU flags of native bf16 arithmetic (Linux ``/proc/cpuinfo``).
_BF16_FLAGS = ('avx512_bf16', 'amx_bf16')

_DEVICE_TYPES = ('cpu', 'cuda')


def check_precision(value: str, owner: str, option: str,
                    allow_auto: bool = False) -> str:
    """Return ``value`` if it names a precision (or :data:`AUTO` with
    ``allow_auto``); one-line error if not."""
    if value not in PRECISIONS and not (allow_auto and value == AUTO):
        choices = tuple(PRECISIONS) + ((AUTO, ) if allow_auto else ())
        raise ValueError(
            f'{owner}: {option}={value!r} is not a precision; choose one of '
            f'{choices} (bf16 on CPU, fp16 or bf16 on CUDA).')
    return value


@functools.lru_cache(maxsize=1)
def native_cpu_bf16(cpuinfo: str = '/proc/cpuinfo') -> bool:
    """Whether this CPU computes bf16 natively (``avx512_bf16`` or AMX),
    read from ``cpuinfo``; False where that file cannot be read."""
    try:
        with open(cpuinfo) as f:
            flags = set(f.read().split())
    except OSError:
        return False
    return any(flag in flags for flag in _BF16_FLAGS)


def resolve_precision(value: str, device: torch.device) -> str:
    """The precision :data:`AUTO` stands for on ``device``: ``'bf16'`` on a
    CPU with native bf16 (the hardware where a bf16 teacher was measured
    faster at an unchanged accuracy, ``bench/README.md``), ``'fp32'``
    elsewhere (not measured). Any other value comes back unchanged."""
    if value != AUTO:
        return value
    return 'bf16' if torch.device(device).type == 'cpu' and \
        native_cpu_bf16() else 'fp32'


def precision_dtype(value: str) -> Optional[torch.dtype]:
    """``torch.bfloat16``/``torch.float16`` for ``'bf16'``/``'fp16'``;
    None for ``'fp32'``."""
    return PRECISIONS[value]


def to_float32(obj: Any) -> Any:
    """``obj`` with every floating tensor below fp32 cast to fp32.

    Walks tensors, lists, tuples (named tuples keep their type) and dicts;
    fp32/fp64 and integer tensors and anything else come back unchanged
    (the same object), so the fp32 path costs nothing.
    """
    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point() and obj.dtype in (torch.float16,
                                                     torch.bfloat16):
            return obj.float()
        return obj
    if isinstance(obj, dict):
        return type(obj)((k, to_float32(v)) for k, v in obj.items())
    if isinstance(obj, tuple) and hasattr(obj, '_fields'):
        return type(obj)(*(to_float32(v) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_float32(v) for v in obj)
    return obj


def autocast_enabled() -> bool:
    """Whether autocast is on for any device type."""
    return any(torch.is_autocast_enabled(d) for d in _DEVICE_TYPES)


@contextlib.contextmanager
def autocast_disabled() -> Iterator[None]:
    """Turn autocast off on every device type where it is on (a loss then
    runs in the dtype of its inputs; give it fp32 ones)."""
    with contextlib.ExitStack() as stack:
        for device_type in _DEVICE_TYPES:
            if torch.is_autocast_enabled(device_type):
                stack.enter_context(
                    torch.autocast(device_type=device_type, enabled=False))
        yield


def autocast_for(module: torch.nn.Module, precision: str):
    """An autocast context in ``precision`` on the device of ``module``'s
    first parameter (or a null context for ``'fp32'``)."""
    dtype = precision_dtype(precision)
    if dtype is None:
        return contextlib.nullcontext()
    param = next(module.parameters(), None)
    device_type = param.device.type if param is not None else 'cpu'
    return torch.autocast(device_type=device_type, dtype=dtype)
