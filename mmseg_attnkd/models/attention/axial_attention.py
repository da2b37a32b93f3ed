# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Position-sensitive axial attention (Wang et al., Axial-DeepLab, ECCV 2020).

Self-attention is factorised into one pass along the height axis and one
along the width axis. Each pass is multi-head and position-sensitive: the
similarity of query position ``o`` and key position ``p`` is

``q_o . k_p + q_o . r^q(p - o) + k_p . r^k(p - o)``

and the value gathered from ``p`` is ``v_p + r^v(p - o)``, with learned
relative-position tables ``r^q``, ``r^k``, ``r^v`` (shared by the heads).
For an ``H x W`` map the attention matrices hold ``W*H*H + H*W*W`` entries
per head instead of ``(H*W)**2`` for full 2-D self-attention, so cost and
memory are ``O(HW(H + W))``.

These are plain ``torch.nn.Module`` s with no registry glue; MMRazor's
``MODELS`` registration of :class:`AxialAttention2d` lives next to the
connector that uses it (``models/connectors/axial_connector.py``), so an
exported MMSeg model (``AxialRefineHead``) can use the block without MMRazor.

Reference:
    Wang, Zhu, Green, Adam, Yuille, Chen. "Axial-DeepLab: Stand-Alone
    Axial-Attention for Panoptic Segmentation". ECCV 2020.
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .axial_attention1d import AxialAttention1d

__all__ = ['AxialAttention1d', 'AxialAttention2d']


class AxialAttention2d(nn.Module):
    """Axial-attention refiner for segmentation logits (residual, zero-init).

    ``h = down(relu(norm1(embed(x))))``;
    ``y = x + proj(up(relu(norm2(attn_w(attn_h(h))))))``

    ``embed`` is a 1x1 conv from the ``C`` class channels to ``channels``
    hidden channels, ``attn_h``/``attn_w`` are :class:`AxialAttention1d`
    along height then width (global context in two steps), ``proj`` is a
    1x1 conv back to ``C``; ``down``/``up`` (average pooling by ``stride``,
    bilinear resize back) are identities for ``stride=1`` and let
    high-resolution logits (e.g. UNet, output stride 1) attend on a coarser
    grid. ``proj`` starts at zero, so at initialisation
    ``y == x`` exactly: the refined ("teacher") output begins equal to the
    input ("student") logits and learns a correction. The norms are
    ``GroupNorm`` (``num_heads`` groups), identical in train and eval mode
    and independent of the batch size.

    Args:
        in_channels: Input/output channels ``C`` (number of classes, or 1 for
            sigmoid-based binary heads).
        channels: Hidden width ``D`` (multiple of ``num_heads``).
        num_heads: Attention heads ``G`` per axis.
        span: Longest axis with exact relative encodings; see
            :class:`AxialAttention1d` for longer axes.
        qk_channels: Query/key channels per head (default ``D/G // 2``).
        long_axis: ``'interpolate'`` (default, global attention) or
            ``'window'`` (local span) for axes longer than ``span``.
        stride: Attend on an average-pooled ``ceil(H/s) x ceil(W/s)`` grid
            and resize the result back (default 1: full resolution).
        zero_init: Zero-initialise ``proj`` (identity mapping at init).
        context_channels: Channels ``Cx`` of an optional context map (e.g.
            the decoder features the logits were classified from) that is
            concatenated to the logits before ``embed``; the output stays a
            residual correction of the logits. 0 (default): logits only.

    Shapes:
        - input: ``(N, C, H, W)`` logits (and ``(N, Cx, H, W)`` context).
        - output: ``(N, C, H, W)`` refined logits.
    """

    def __init__(self,
                 in_channels: int,
                 channels: int = 64,
                 num_heads: int = 8,
                 span: int = 64,
                 qk_channels: Optional[int] = None,
                 long_axis: str = 'interpolate',
                 stride: int = 1,
                 zero_init: bool = True,
                 context_channels: int = 0) -> None:
        super().__init__()
        if not isinstance(stride, int) or stride < 1:
            raise ValueError(f'stride must be an int >= 1, got {stride!r}')
        if num_heads < 1 or channels % num_heads != 0:
            raise ValueError(
                f'channels ({channels}) must be a positive multiple of '
                f'num_heads ({num_heads}); change one of them, e.g. '
                f'channels={max(num_heads, 1) * 8}.')
        if channels // num_heads < 2:
            # GroupNorm has one group per head: a single channel per group
            # cannot be normalised on a 1x1 map at batch size 1
            raise ValueError(
                f'channels ({channels}) must be at least 2 * num_heads '
                f'({num_heads}): each head needs >= 2 channels; e.g. '
                f'channels={num_heads * 8}.')
        if not isinstance(in_channels, int) or in_channels < 1:
            raise ValueError(
                f'in_channels must be a positive int (the number of classes '
                f'of the decode head), got {in_channels!r}')
        if not isinstance(context_channels, int) or context_channels < 0:
            raise ValueError(
                f'context_channels must be an int >= 0 (the channels of '
                f'the decoder features), got {context_channels!r}')
        self.in_channels = in_channels
        self.context_channels = context_channels
        self.channels = channels
        self.stride = stride
        self.zero_init = zero_init
        self.embed = nn.Conv2d(in_channels + context_channels, channels, 1)
        self.norm1 = nn.GroupNorm(num_heads, channels)
        self.attn_h = AxialAttention1d(channels, 'height', num_heads, span,
                                       qk_channels, long_axis)
        self.attn_w = AxialAttention1d(channels, 'width', num_heads, span,
                                       qk_channels, long_axis)
        self.norm2 = nn.GroupNorm(num_heads, channels)
        self.act = nn.ReLU()
        self.proj = nn.Conv2d(channels, in_channels, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialise; ``proj`` is zeroed when ``zero_init``."""
        nn.init.kaiming_normal_(self.embed.weight, nonlinearity='relu')
        nn.init.zeros_(self.embed.bias)
        self.attn_h.reset_parameters()
        self.attn_w.reset_parameters()
        for norm in (self.norm1, self.norm2):
            nn.init.ones_(norm.weight)
            nn.init.zeros_(norm.bias)
        if self.zero_init:
            nn.init.zeros_(self.proj.weight)
        else:
            nn.init.kaiming_normal_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: Tensor, context: Optional[Tensor] = None) -> Tensor:
        """Refine logits with global axial context.

        Args:
            x: ``(N, C, H, W)`` logits.
            context: ``(N, Cx, H, W)`` context map; required exactly when
                ``context_channels > 0``.

        Returns:
            Tensor: ``(N, C, H, W)``.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'AxialAttention2d expects (N, {self.in_channels}, H, W) '
                f'logits, got shape {tuple(x.shape)}; set in_channels to the '
                'number of output channels of the decode head.')
        h = x
        if self.context_channels:
            if context is None or context.dim() != 4 or \
                    context.shape[1] != self.context_channels or \
                    context.shape[2:] != x.shape[2:]:
                got = None if context is None else tuple(context.shape)
                raise ValueError(
                    f'AxialAttention2d(context_channels='
                    f'{self.context_channels}) needs a context of shape '
                    f'(N, {self.context_channels}, {x.shape[2]}, '
                    f'{x.shape[3]}) beside the logits, got {got}.')
            h = torch.cat([x, context.to(x.dtype)], dim=1)
        elif context is not None:
            raise ValueError('AxialAttention2d got a context map but was '
                             'built with context_channels=0.')
        h = self.act(self.norm1(self.embed(h)))
        if self.stride > 1:
            h = F.avg_pool2d(h, self.stride, self.stride, ceil_mode=True)
        h = self.attn_w(self.attn_h(h))
        h = self.act(self.norm2(h))
        if self.stride > 1:
            h = F.interpolate(
                h, size=x.shape[2:], mode='bilinear', align_corners=False)
        return x + self.proj(h)
