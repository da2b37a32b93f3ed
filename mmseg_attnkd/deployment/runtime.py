# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""onnxruntime sessions and image input for exported segmentors."""
import os
from typing import Optional, Tuple, Union

import numpy as np

from .errors import import_optional

__all__ = ['ort_session', 'image_to_input', 'read_image', 'input_hw']


def ort_session(model: Union[str, os.PathLike, bytes],
                threads: Optional[int] = None):
    """A CPU ``onnxruntime.InferenceSession`` with all graph optimisations.

    Args:
        model: ``.onnx`` path or serialized model bytes.
        threads: Intra-op threads (``None``: onnxruntime's default, one per
            core); inter-op parallelism is off (one thread), as a segmentor
            is one chain of ops.
    """
    ort = import_optional('onnxruntime')
    opts = ort.SessionOptions()
    opts.graph_optimization_level = \
        ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3  # warnings about unused initialisers
    if threads is not None:
        opts.intra_op_num_threads = int(threads)
        opts.inter_op_num_threads = 1
    if not isinstance(model, bytes):
        model = os.fspath(model)
    return ort.InferenceSession(model, opts,
                                providers=['CPUExecutionProvider'])


def input_hw(session) -> Optional[Tuple[int, int]]:
    """``(H, W)`` of a session's fixed-size input, ``None`` if dynamic."""
    dims = session.get_inputs()[0].shape
    if len(dims) == 4 and all(isinstance(d, int) for d in dims[2:]):
        return int(dims[2]), int(dims[3])
    return None


def read_image(path: str) -> np.ndarray:
    """``(H, W, 3)`` uint8 image in BGR order (as MMSeg's pipeline reads)."""
    import mmcv
    img = mmcv.imread(path, flag='color', channel_order='bgr')
    if img is None:
        raise FileNotFoundError(f'cannot read image {path!r}')
    return img


def image_to_input(img: np.ndarray,
                   size: Optional[Tuple[int, int]] = None) -> np.ndarray:
    """``(H, W, 3)`` uint8 -> ``(1, 3, h, w)`` float32 graph input.

    Args:
        img: Image as :func:`read_image` returns it.
        size: ``(h, w)`` to resize to (bilinear), or ``None`` to keep it.
    """
    if size is not None and tuple(img.shape[:2]) != tuple(size):
        import mmcv
        img = mmcv.imresize(img, (int(size[1]), int(size[0])),
                            interpolation='bilinear')
    return np.ascontiguousarray(
        img.transpose(2, 0, 1)[None].astype(np.float32))
