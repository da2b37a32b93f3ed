# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The traceable module that becomes the ONNX graph.

MMSeg's ``forward(mode='predict')`` takes lists of images and data samples;
an ONNX graph needs a tensor in and a tensor out. The wrapper keeps MMSeg's
own inference path (``EncoderDecoder.encode_decode``, i.e. backbone, neck,
decode head and the head's resize of the logits to the input size) and adds
the data preprocessor's channel order and normalisation in front of it, so
a deployed model takes the image exactly as OpenCV/MMCV read it.
"""
from typing import Tuple

import torch
from torch import Tensor, nn

__all__ = ['OUTPUT_KINDS', 'SegmentorExportWrapper']

#: What the exported graph returns.
OUTPUT_KINDS = ('logits', 'labels')


class SegmentorExportWrapper(nn.Module):
    """Image tensor in, logits or label map out; same maths as MMSeg.

    Args:
        segmentor: An MMSeg ``EncoderDecoder`` in eval mode (a decode head
            may be ``AxialRefineHead``).
        output: ``'logits'`` or ``'labels'``.

    Shapes:
        - input ``image``: ``(N, 3, H, W)`` float32, 0-255, in the channel
          order the config's data preprocessor expects as input (BGR, as
          ``cv2.imread``/``mmcv.imread`` return it, for the usual
          ``bgr_to_rgb=True``).
        - output ``logits``: ``(N, C, H, W)`` float32, ``C`` = classes
          (``1`` for a sigmoid head), resized to the input size as MMSeg
          does before its argmax.
        - output ``labels``: ``(N, H, W)`` int64 class indices (argmax, or
          ``sigmoid > threshold`` for a one-channel head).
    """

    def __init__(self, segmentor: nn.Module, output: str = 'logits') -> None:
        super().__init__()
        if output not in OUTPUT_KINDS:
            raise ValueError(
                f'output must be one of {OUTPUT_KINDS}, got {output!r}')
        if not hasattr(segmentor, 'encode_decode'):
            raise TypeError(
                f'{type(segmentor).__name__} has no encode_decode(); the '
                'exporter handles MMSeg EncoderDecoder models.')
        self.segmentor = segmentor
        self.output = output
        prep = segmentor.data_preprocessor
        self.channel_conversion = bool(getattr(prep, 'channel_conversion',
                                               False))
        normalize = bool(getattr(prep, '_enable_normalize', False))
        # (1, 3, 1, 1) constants; an identity when the config has no mean/std
        mean = prep.mean.detach().float().reshape(1, -1, 1, 1) \
            if normalize else torch.zeros(1, 1, 1, 1)
        std = prep.std.detach().float().reshape(1, -1, 1, 1) \
            if normalize else torch.ones(1, 1, 1, 1)
        self.register_buffer('mean', mean.clone(), persistent=False)
        self.register_buffer('std', std.clone(), persistent=False)
        head = segmentor.decode_head
        self.num_classes = int(head.out_channels)
        self.threshold = float(getattr(head, 'threshold', None) or 0.3)

    @property
    def input_description(self) -> str:
        """How the graph expects its input (stored in the ONNX metadata)."""
        if self.channel_conversion:
            return ('float32 NCHW, 0-255, BGR channel order (as cv2.imread '
                    'returns it); the swap to the model\'s order and the '
                    'normalisation are inside the graph')
        return ('float32 NCHW, 0-255, channels in the order the model was '
                'trained on (no channel swap in the config); the '
                'normalisation is inside the graph')

    def preprocess(self, image: Tensor) -> Tensor:
        """Channel order and normalisation of MMSeg's data preprocessor.

        Args:
            image: ``(N, 3, H, W)`` float, 0-255.

        Returns:
            Tensor: ``(N, 3, H, W)`` normalised input of the backbone.
        """
        if self.channel_conversion:
            image = image[:, [2, 1, 0]]
        return (image - self.mean) / self.std

    def logits(self, image: Tensor) -> Tensor:
        """``(N, 3, H, W)`` image -> ``(N, C, H, W)`` logits."""
        x = self.preprocess(image)
        # img_shape as torch.Size: the head resizes its logits to it,
        # symbolically when the export has dynamic height/width
        metas = [dict(img_shape=x.shape[2:])] * x.shape[0]
        return self.segmentor.encode_decode(x, metas)

    def labels(self, logits: Tensor) -> Tensor:
        """``(N, C, H, W)`` logits -> ``(N, H, W)`` int64 labels."""
        if logits.shape[1] == 1:
            return (logits.sigmoid() > self.threshold).squeeze(1).long()
        return logits.argmax(dim=1)

    def forward(self, image: Tensor) -> Tensor:
        """Logits or labels of ``image`` (see the class docstring)."""
        logits = self.logits(image)
        return logits if self.output == 'logits' else self.labels(logits)


def input_size_of(segmentor: nn.Module) -> Tuple[int, int]:
    """A default ``(H, W)``: the data preprocessor's ``size`` (crop size).

    Falls back to ``(512, 512)`` when the config sets none.
    """
    size = getattr(segmentor.data_preprocessor, 'size', None)
    if size is not None and len(size) == 2:
        return int(size[0]), int(size[1])
    return 512, 512
