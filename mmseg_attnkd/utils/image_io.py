# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Writing images: the one PNG writer of converters and visualisations."""
import os
import os.path as osp

import numpy as np
from PIL import Image

__all__ = ['save_png']


def save_png(array: np.ndarray, path: str) -> str:
    """Write a ``(H, W)`` (grey, labels) or ``(H, W, 3)`` (RGB) uint8 array
    as PNG, creating the folder.

    Returns:
        str: ``path``.

    Raises:
        TypeError: ``array`` is not uint8 (8-bit PNG would clip or wrap).
    """
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f'Refusing to save {array.dtype} as 8-bit PNG: '
                        f'{path}. Convert to uint8 first.')
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array)).save(path)
    return path
