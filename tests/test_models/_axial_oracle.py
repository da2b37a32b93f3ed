# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Test oracle: the original, einsum-based axial attention, kept verbatim.

The library implementation (``mmseg_attnkd.models.attention.axial_attention``)
computes the same maths with fewer, larger kernels; the tests compare its
outputs, gradients and state dicts with this reference. Do not optimise it.

Original module docstring follows.

Position-sensitive axial attention (Wang et al., Axial-DeepLab, ECCV 2020).

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
import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ['AxialAttention1d', 'AxialAttention2d']

_AXES = ('height', 'width')
_LONG_AXIS_MODES = ('interpolate', 'window')


class AxialAttention1d(nn.Module):
    """Multi-head, position-sensitive self-attention along one spatial axis.

    Relative positions are learned for offsets ``-(span-1) .. span-1``. An
    axis of length ``L <= span`` uses the central ``2L-1`` entries of each
    table, so attention is global and exactly translation-equivariant. An
    axis longer than ``span`` is handled by ``long_axis``:

    * ``'interpolate'`` (default): the ``2*span-1`` table is linearly
      resampled to ``2L-1`` entries (end points and offset 0 stay fixed).
      Attention stays global over the whole axis, which is the point of the
      axial self-distillation teacher; far offsets share smoothly stretched
      encodings.
    * ``'window'``: each query attends only to keys with ``|p - o| < span``
      (Axial-DeepLab's local span). Exactly equivariant at any length, but
      context is limited to the window.

    Args:
        channels: Input/output channels ``D`` (``D % num_heads == 0``).
        axis: ``'height'`` or ``'width'``.
        num_heads: Number of heads ``G``; each has ``D/G`` value channels.
        span: Largest axis length with exact relative encodings.
        qk_channels: Query/key channels per head (default ``D/G // 2``, as
            in Axial-DeepLab, at least 1).
        long_axis: ``'interpolate'`` or ``'window'`` (see above).

    Shapes:
        - input: ``(N, D, H, W)``
        - output: ``(N, D, H, W)``
    """

    def __init__(self,
                 channels: int,
                 axis: str = 'height',
                 num_heads: int = 8,
                 span: int = 64,
                 qk_channels: Optional[int] = None,
                 long_axis: str = 'interpolate') -> None:
        super().__init__()
        if axis not in _AXES:
            raise ValueError(f'axis must be one of {_AXES}, got {axis!r}')
        if long_axis not in _LONG_AXIS_MODES:
            raise ValueError(f'long_axis must be one of {_LONG_AXIS_MODES}, '
                             f'got {long_axis!r}')
        if num_heads < 1 or channels % num_heads != 0:
            raise ValueError(
                f'channels ({channels}) must be a positive multiple of '
                f'num_heads ({num_heads}); change one of them, e.g. '
                f'channels={max(num_heads, 1) * 8}.')
        if span < 1:
            raise ValueError(f'span must be >= 1, got {span}')
        self.channels = channels
        self.axis = axis
        self.num_heads = num_heads
        self.span = span
        self.long_axis = long_axis
        self.v_channels = channels // num_heads
        self.qk_channels = qk_channels or max(self.v_channels // 2, 1)
        self.scale = self.qk_channels**-0.5

        per_head = 2 * self.qk_channels + self.v_channels
        self.qkv = nn.Conv1d(channels, num_heads * per_head, 1, bias=False)
        # Relative tables, columns indexed by offset + (span - 1).
        self.rel_q = nn.Parameter(torch.empty(self.qk_channels, 2 * span - 1))
        self.rel_k = nn.Parameter(torch.empty(self.qk_channels, 2 * span - 1))
        self.rel_v = nn.Parameter(torch.empty(self.v_channels, 2 * span - 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-style qkv init; relative tables ~ N(0, 1/d)."""
        nn.init.normal_(self.qkv.weight, 0.0, math.sqrt(1.0 / self.channels))
        for table in (self.rel_q, self.rel_k, self.rel_v):
            nn.init.normal_(table, 0.0, math.sqrt(1.0 / table.shape[0]))

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, axis={self.axis}, '
                f'num_heads={self.num_heads}, span={self.span}, '
                f'qk_channels={self.qk_channels}, '
                f'long_axis={self.long_axis}')

    # ------------------------------------------------------------------
    def relative_embeddings(self, table: Tensor, length: int) -> Tensor:
        """Look up a relative table for every (query, key) pair.

        Args:
            table: ``(d, 2*span-1)`` learned table.
            length: Axis length ``L``.

        Returns:
            Tensor: ``(d, L, L)``; entry ``[:, o, p]`` encodes offset
            ``p - o``.
        """
        span = self.span
        if length <= span:
            table = table[:, span - length:span + length - 1]
        elif self.long_axis == 'interpolate':
            table = F.interpolate(
                table[None], size=2 * length - 1, mode='linear',
                align_corners=True)[0]
        else:  # window: offsets beyond the span are masked out later
            pad = length - span
            table = F.pad(table, (pad, pad))
        pos = torch.arange(length, device=table.device)
        index = pos[None, :] - pos[:, None] + (length - 1)
        return table[:, index]

    def _to_sequences(self, x: Tensor) -> Tensor:
        """``(N, D, H, W)`` -> ``(N*W, D, H)`` or ``(N*H, D, W)``."""
        n, d, h, w = x.shape
        if self.axis == 'height':
            return x.permute(0, 3, 1, 2).reshape(n * w, d, h)
        return x.permute(0, 2, 1, 3).reshape(n * h, d, w)

    def _from_sequences(self, seq: Tensor, shape: torch.Size) -> Tensor:
        n, d, h, w = shape
        if self.axis == 'height':
            return seq.reshape(n, w, d, h).permute(0, 2, 3, 1)
        return seq.reshape(n, h, d, w).permute(0, 2, 1, 3)

    def _qkv(self, seq: Tensor):
        b, _, length = seq.shape
        qkv = self.qkv(seq).reshape(b, self.num_heads, -1, length)
        return torch.split(
            qkv, [self.qk_channels, self.qk_channels, self.v_channels], dim=2)

    def _logits(self, q: Tensor, k: Tensor) -> Tensor:
        length = q.shape[-1]
        r_q = self.relative_embeddings(self.rel_q, length)
        r_k = self.relative_embeddings(self.rel_k, length)
        # in-place accumulation keeps one (B, G, L, L) buffer alive
        logits = torch.einsum('bgci,bgcj->bgij', q * self.scale, k)
        logits += torch.einsum('bgci,cij->bgij', q * self.scale, r_q)
        logits += torch.einsum('bgcj,cij->bgij', k * self.scale, r_k)
        if self.long_axis == 'window' and length > self.span:
            pos = torch.arange(length, device=q.device)
            far = (pos[None, :] - pos[:, None]).abs() >= self.span
            logits = logits.masked_fill(far, float('-inf'))
        return logits

    def attention_logits(self, x: Tensor) -> Tensor:
        """Pre-softmax similarities (for analysis and tests).

        Args:
            x: ``(N, D, H, W)``.

        Returns:
            Tensor: ``(N*W, G, H, H)`` for the height axis or
            ``(N*H, G, W, W)`` for the width axis; ``[b, g, o, p]`` is the
            similarity of query ``o`` and key ``p``.
        """
        q, k, _ = self._qkv(self._to_sequences(x))
        return self._logits(q, k)

    def forward(self, x: Tensor) -> Tensor:
        """Attend along ``self.axis``.

        Args:
            x: ``(N, D, H, W)``.

        Returns:
            Tensor: ``(N, D, H, W)``.
        """
        seq = self._to_sequences(x)
        q, k, v = self._qkv(seq)
        attn = self._logits(q, k).softmax(dim=-1)  # (B, G, L, L)
        r_v = self.relative_embeddings(self.rel_v, seq.shape[-1])
        out = torch.einsum('bgij,bgcj->bgci', attn, v)
        out += torch.einsum('bgij,cij->bgci', attn, r_v)
        out = out.reshape(seq.shape[0], self.channels, seq.shape[-1])
        return self._from_sequences(out, x.shape)


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

    Shapes:
        - input: ``(N, C, H, W)`` logits.
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
                 zero_init: bool = True) -> None:
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
        self.in_channels = in_channels
        self.channels = channels
        self.stride = stride
        self.zero_init = zero_init
        self.embed = nn.Conv2d(in_channels, channels, 1)
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

    def forward(self, x: Tensor) -> Tensor:
        """Refine logits with global axial context.

        Args:
            x: ``(N, C, H, W)``.

        Returns:
            Tensor: ``(N, C, H, W)``.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'AxialAttention2d expects (N, {self.in_channels}, H, W) '
                f'logits, got shape {tuple(x.shape)}; set in_channels to the '
                'number of output channels of the decode head.')
        h = self.act(self.norm1(self.embed(x)))
        if self.stride > 1:
            h = F.avg_pool2d(h, self.stride, self.stride, ceil_mode=True)
        h = self.attn_w(self.attn_h(h))
        h = self.act(self.norm2(h))
        if self.stride > 1:
            h = F.interpolate(
                h, size=x.shape[2:], mode='bilinear', align_corners=False)
        return x + self.proj(h)
