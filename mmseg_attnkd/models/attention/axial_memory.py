# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Training memory of :class:`~.axial_attention.AxialAttention2d`.

The block's cost is dominated by the attention matrices of its two axes:
``N * W' * G * H'**2`` and ``N * H' * G * W'**2`` entries on the
``H' x W'`` grid (``ceil(H/stride) x ceil(W/stride)``). On full-resolution
logits (ERFNet, UNet: output stride 1) they grow with the cube of the
side: 512x1024 logits at batch 2 with 8 heads need about 17 GB for the
height axis alone. :func:`axial_train_bytes` estimates the peak so a run
can pick a ``stride`` (or refuse) before it allocates any of it.
"""
import math
from typing import Optional, Sequence

__all__ = ['axial_train_bytes', 'smallest_fitting_stride', 'MAX_STRIDE']

#: Largest stride :func:`smallest_fitting_stride` tries.
MAX_STRIDE = 64


def axial_train_bytes(shape: Sequence[int], channels: int, num_heads: int,
                      stride: int = 1, bytes_per_element: int = 4) -> int:
    """Estimated peak bytes of one forward + backward of the block.

    Counts what autograd keeps plus the largest temporaries of the
    backward pass: four ``(N, D, H, W)`` full-resolution activations
    (embedding, norm, ReLU, resized output), about eight ``(N, D, H', W')``
    pooled ones (sequences, projections, outputs of both axes), the saved
    attention of both axes ``N*G*H'*W'*(H'+W')`` and two more attention-
    sized buffers of the longer axis during its backward.

    Args:
        shape: Logits shape ``(N, C, H, W)``.
        channels: Hidden width ``D`` of the block.
        num_heads: Heads ``G`` per axis.
        stride: Pooling stride ``s`` of the attention grid.
        bytes_per_element: 4 for float32, 2 for float16/bfloat16.

    Returns:
        int: Bytes.
    """
    n, _, h, w = (int(v) for v in shape)
    hp, wp = math.ceil(h / stride), math.ceil(w / stride)
    full = 4 * n * channels * h * w
    pooled = 8 * n * channels * hp * wp
    attention = n * num_heads * hp * wp * (hp + wp)
    backward = 2 * n * num_heads * hp * wp * max(hp, wp)
    return bytes_per_element * (full + pooled + attention + backward)


def smallest_fitting_stride(shape: Sequence[int], channels: int,
                            num_heads: int, budget_bytes: float,
                            bytes_per_element: int = 4) -> Optional[int]:
    """The smallest ``stride`` whose estimate fits ``budget_bytes``.

    Args:
        shape: Logits shape ``(N, C, H, W)``.
        channels: Hidden width ``D``.
        num_heads: Heads ``G``.
        budget_bytes: Memory budget.
        bytes_per_element: Element size.

    Returns:
        int or None: None when even :data:`MAX_STRIDE` (or the stride that
        reduces the grid to one cell) does not fit.
    """
    longest = max(int(shape[2]), int(shape[3]))
    for stride in range(1, min(MAX_STRIDE, longest) + 1):
        if axial_train_bytes(shape, channels, num_heads, stride,
                             bytes_per_element) <= budget_bytes:
            return stride
    return None
