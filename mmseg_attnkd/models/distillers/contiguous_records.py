# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Hand losses contiguous tensors, whatever layout a model records."""
from typing import Any

from torch import Tensor

__all__ = ['ContiguousRecordsMixin', 'contiguous']


def contiguous(data: Any) -> Any:
    """``data`` with every tensor (also inside a tuple or list) made
    contiguous; a contiguous tensor is returned as is (no copy)."""
    if isinstance(data, Tensor):
        return data.contiguous()
    if isinstance(data, (tuple, list)):
        return type(data)(contiguous(d) for d in data)
    return data


class ContiguousRecordsMixin:
    """``get_record`` returns contiguous tensors.

    Some MMSeg models compute in a channels-last layout: MixVisionTransformer
    (SegFormer) turns token sequences into ``(N, C, H, W)`` maps by a
    transpose, so every convolution after it, ``conv_seg`` included, returns
    channels-last strides. MMRazor's losses flatten with ``.view`` (e.g.
    ``ChannelWiseDivergence``: ``preds.view(-1, H * W)``), which fails on
    such a tensor with ``view size is not compatible with input tensor's
    size and stride``. Mix this in before ``ConfigurableDistiller``; a
    record that is already contiguous costs nothing.
    """

    def get_record(self, *args, **kwargs) -> Any:
        """``ConfigurableDistiller.get_record`` with contiguous tensors."""
        return contiguous(super().get_record(*args, **kwargs))
