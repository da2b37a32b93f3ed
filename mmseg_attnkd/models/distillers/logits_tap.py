# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""A hookable point for the logits of a decode head without ``conv_seg``.

Most MMSeg heads classify with a ``conv_seg`` Conv2d, whose forward hook
sees the logits. Some compute them otherwise (Segmenter's mask
transformer: class embeddings times patch embeddings), and MMSeg calls a
head's ``forward`` directly (``self.forward(inputs)`` in ``loss`` and
``predict``), so no module hook sees its output. :func:`tap_head_logits`
routes that output through an ``nn.Identity`` submodule, ``logits_tap``,
which recorders and inference hooks can use like ``conv_seg``. The
identity has no parameters: checkpoints keep their keys.
"""
import types

from torch import Tensor, nn

__all__ = ['LOGITS_TAP', 'tap_head_logits', 'logit_module']

#: Name of the identity submodule the tapped head's output passes through.
LOGITS_TAP = 'logits_tap'


def _tapped_forward(self: nn.Module, *args, **kwargs) -> Tensor:
    """The class's ``forward``, its output passed through ``logits_tap``.

    Bound to the head instance (no closure), so ``copy.deepcopy`` of the
    model rebinds it to the copy.
    """
    out = type(self).forward(self, *args, **kwargs)
    if not isinstance(out, Tensor) or out.dim() != 4:
        shape = tuple(out.shape) if isinstance(out, Tensor) else \
            type(out).__name__
        raise ValueError(
            f'{type(self).__name__} has no conv_seg and its forward gives '
            f'{shape}, not (N, C, H, W) logits, so axial self-distillation '
            'cannot refine them; use a decode head that outputs one logit '
            'map.')
    return getattr(self, LOGITS_TAP)(out)


def tap_head_logits(head: nn.Module) -> nn.Module:
    """Route ``head``'s forward output through ``head.logits_tap``
    (idempotent).

    Args:
        head: An MMSeg decode head without a ``conv_seg`` Conv2d.

    Returns:
        nn.Module: The ``logits_tap`` identity, whose input and output are
        the head's ``(N, C, H, W)`` logits.
    """
    if not isinstance(getattr(head, LOGITS_TAP, None), nn.Identity):
        head.add_module(LOGITS_TAP, nn.Identity())
        head.forward = types.MethodType(_tapped_forward, head)
    return getattr(head, LOGITS_TAP)


def logit_module(head: nn.Module) -> nn.Module:
    """The module whose output is ``head``'s logits: ``conv_seg``, else a
    ``logits_tap`` added by :func:`tap_head_logits`."""
    conv_seg = getattr(head, 'conv_seg', None)
    if isinstance(conv_seg, nn.Conv2d):
        return conv_seg
    return tap_head_logits(head)
