# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Small helpers shared by the dataset converters."""
import os
import os.path as osp
from typing import List, Optional, Sequence, Tuple, TypeVar

import numpy as np
from PIL import Image

__all__ = [
    'parse_index_ranges', 'select_evenly', 'scaled_size', 'resize_image',
    'resize_label', 'save_png', 'prepare_split_dirs'
]

T = TypeVar('T')


def parse_index_ranges(spec: str) -> List[int]:
    """Parse ``'0-15'``, ``'16,17,19'`` or ``'0-3,8,10-11'`` to indices.

    Returns:
        list[int]: Sorted, unique, non-negative indices.

    Raises:
        ValueError: On an empty, malformed or reversed range.
    """
    out = set()
    text = str(spec).strip()
    if not text:
        raise ValueError('Empty index list; give e.g. "0-15" or "16,17".')
    for part in text.split(','):
        part = part.strip()
        try:
            if '-' in part:
                lo, hi = (int(v) for v in part.split('-', 1))
            else:
                lo = hi = int(part)
        except ValueError:
            raise ValueError(
                f'Cannot parse {part!r} in index list {spec!r}; use ranges '
                'and commas such as "0-15" or "0-3,8".') from None
        if lo < 0 or hi < lo:
            raise ValueError(
                f'Bad range {part!r} in {spec!r}: need 0 <= start <= end.')
        out.update(range(lo, hi + 1))
    return sorted(out)


def select_evenly(items: Sequence[T], limit: Optional[int]) -> List[T]:
    """Pick ``limit`` items spread evenly over ``items`` (deterministic).

    Item ``i`` of the result is ``items[floor((i + 0.5) * n / limit)]``, so
    the picks are centred in ``limit`` equal blocks of the (sorted) input:
    for CamVid, whose file names start with the sequence name, every
    sequence is represented in proportion to its length.

    Args:
        items: The candidates, in a fixed order.
        limit: How many to keep; None or >= len(items) keeps all.
    """
    n = len(items)
    if limit is None or limit >= n:
        return list(items)
    if limit <= 0:
        raise ValueError(f'limit must be positive, got {limit}.')
    return [items[int((i + 0.5) * n / limit)] for i in range(limit)]


def scaled_size(size: Tuple[int, int], scale: float) -> Tuple[int, int]:
    """``(W, H)`` multiplied by ``scale`` and rounded, at least 1 pixel."""
    if not scale > 0:
        raise ValueError(f'scale must be > 0, got {scale}.')
    return (max(1, int(round(size[0] * scale))),
            max(1, int(round(size[1] * scale))))


def resize_image(img: Image.Image, size: Tuple[int, int]) -> Image.Image:
    """Resize an intensity image to ``(W, H)``.

    Uses PIL's bilinear filter, which widens its support when shrinking, so
    a downscale averages over the covered area (no aliasing).
    """
    if img.size == tuple(size):
        return img
    return img.resize(tuple(size), Image.Resampling.BILINEAR)


def resize_label(label: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Resize a ``(H, W)`` uint8 label map to ``(W, H)`` by nearest."""
    if (label.shape[1], label.shape[0]) == tuple(size):
        return label
    return np.array(
        Image.fromarray(label).resize(tuple(size), Image.Resampling.NEAREST))


def save_png(array: np.ndarray, path: str) -> None:
    """Write a ``(H, W)`` or ``(H, W, 3)`` uint8 array as PNG."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f'Refusing to save {array.dtype} as 8-bit PNG: '
                        f'{path}. Convert to uint8 first.')
    os.makedirs(osp.dirname(path) or '.', exist_ok=True)
    Image.fromarray(array).save(path)


def prepare_split_dirs(out_dir: str, split: str) -> Tuple[str, str]:
    """Create and return ``out_dir/img_dir/<split>``, ``ann_dir/<split>``."""
    img_dir = osp.join(out_dir, 'img_dir', split)
    ann_dir = osp.join(out_dir, 'ann_dir', split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    return img_dir, ann_dir
