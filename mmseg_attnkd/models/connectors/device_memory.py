# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""How much memory a device offers this process."""
import os
from typing import Optional

import torch

__all__ = ['device_memory_bytes', 'default_memory_budget']

#: Fraction of the device memory a training add-on may plan to use.
DEFAULT_FRACTION = 0.25
_CGROUP_LIMITS = ('/sys/fs/cgroup/memory.max',
                  '/sys/fs/cgroup/memory/memory.limit_in_bytes')


def _cgroup_limit() -> Optional[int]:
    for path in _CGROUP_LIMITS:
        try:
            with open(path, encoding='ascii') as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():
            return int(text)
    return None


def device_memory_bytes(device: torch.device) -> int:
    """Total memory of a CUDA device, or the RAM this process may use (the
    physical RAM, or a smaller cgroup limit) for any other device."""
    if device.type == 'cuda':
        return int(torch.cuda.get_device_properties(device).total_memory)
    ram = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    limit = _cgroup_limit()
    return min(ram, limit) if limit else ram


def default_memory_budget(device: torch.device) -> float:
    """:data:`DEFAULT_FRACTION` of :func:`device_memory_bytes`, in bytes."""
    return DEFAULT_FRACTION * device_memory_bytes(device)
