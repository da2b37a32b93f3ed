# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Multi-head, position-sensitive self-attention along one spatial axis.

Part of the axial-attention block of :mod:`.axial_attention`; the attention
arithmetic itself is :func:`.relative_attention.relative_attention`.
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .relative_attention import relative_attention, relative_logits

__all__ = ['AxialAttention1d']

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
    def relative_table(self, table: Tensor, length: int) -> Tensor:
        """Resize a relative table to the offsets of an axis of length ``L``.

        Args:
            table: ``(d, 2*span-1)`` learned table.
            length: Axis length ``L``.

        Returns:
            Tensor: ``(d, 2L-1)``; column ``j`` encodes offset ``j - (L-1)``.
            In ``'window'`` mode offsets beyond the span are zero (they are
            masked out of the attention anyway).
        """
        span = self.span
        if length <= span:
            return table[:, span - length:span + length - 1]
        if self.long_axis == 'interpolate':
            return F.interpolate(
                table[None], size=2 * length - 1, mode='linear',
                align_corners=True)[0]
        pad = length - span
        return F.pad(table, (pad, pad))

    def relative_embeddings(self, table: Tensor, length: int) -> Tensor:
        """Look up a relative table for every (query, key) pair.

        Only for analysis and tests; the forward pass never builds this.

        Args:
            table: ``(d, 2*span-1)`` learned table.
            length: Axis length ``L``.

        Returns:
            Tensor: ``(d, L, L)``; entry ``[:, o, p]`` encodes offset
            ``p - o``.
        """
        table = self.relative_table(table, length)
        pos = torch.arange(length, device=table.device)
        index = pos[None, :] - pos[:, None] + (length - 1)
        return table[:, index]

    def _to_sequences(self, x: Tensor) -> Tensor:
        """``(N, D, H, W)`` -> channels-last ``(N*W, H, D)`` (height axis) or
        ``(N*H, W, D)`` (width axis), the layout the projection GEMM wants."""
        n, d, h, w = x.shape
        if self.axis == 'height':
            return x.permute(0, 3, 2, 1).reshape(n * w, h, d)
        return x.permute(0, 2, 3, 1).reshape(n * h, w, d)

    def _from_sequences(self, seq: Tensor, shape: torch.Size) -> Tensor:
        """Inverse of :meth:`_to_sequences`, as a view (channels-last
        memory, which GroupNorm and 1x1 convs take without a copy)."""
        n, d, h, w = shape
        if self.axis == 'height':
            return seq.view(n, w, h, d).permute(0, 3, 2, 1)
        return seq.view(n, h, w, d).permute(0, 3, 1, 2)

    def _qkv(self, seq: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """Project sequences to per-head queries (pre-scaled), keys, values.

        Args:
            seq: ``(B, L, D)``.

        Returns:
            tuple: ``q`` and ``k`` of shape ``(B*G, L, c_qk)`` and ``v`` of
            shape ``(B*G, L, c_v)``, ``q`` already multiplied by
            ``self.scale``.
        """
        b, length, d = seq.shape
        g, cq = self.num_heads, self.qk_channels
        weight = self.qkv.weight.view(g, -1, d)
        # folding the softmax scale into the (tiny) query weights saves a
        # pass over q and keeps it a view of the projection
        weight = torch.cat([weight[:, :cq] * self.scale, weight[:, cq:]], 1)
        # one GEMM over all positions; one copy to head-major layout, after
        # which q/k/v are strided views every matmul accepts as they are
        qkv = torch.matmul(seq, weight.view(-1, d).t())
        qkv = qkv.view(b, length, g, -1).transpose(1, 2)  # (B, G, L, c3)
        qkv = qkv.reshape(b * g, length, -1)
        return torch.split(qkv, [cq, cq, self.v_channels], dim=2)

    def _tables(self, length: int) -> Tuple[Tensor, Tensor, Tensor]:
        """Per-pair relative encodings in the layouts the batched matmuls of
        :func:`_attention` take without copies.

        Returns:
            tuple: ``r_q`` ``(L_o, c_qk, L_p)``, ``r_k`` ``(L_p, c_qk, L_o)``
            (pre-scaled) and ``r_v`` ``(L_o, L_p, c_v)``; each is tiny
            (``d * L * L``) next to the ``(B*G, L, L)`` attention.
        """
        pos = torch.arange(length, device=self.rel_q.device)
        index = pos[None, :] - pos[:, None] + (length - 1)  # [o, p]
        r_q = self.relative_table(self.rel_q, length)[:, index]
        r_k = self.relative_table(self.rel_k, length)[:, index] * self.scale
        r_v = self.relative_table(self.rel_v, length)[:, index]
        return (r_q.transpose(0, 1), r_k.permute(2, 0, 1),
                r_v.permute(1, 2, 0))

    def _far_mask(self, length: int, device: torch.device) -> \
            Optional[Tensor]:
        """``(L, L)`` bool, True where ``|p - o| >= span`` (window mode)."""
        if self.long_axis != 'window' or length <= self.span:
            return None
        pos = torch.arange(length, device=device)
        return (pos[None, :] - pos[:, None]).abs() >= self.span

    def _attend(self, seq: Tensor) -> Tensor:
        """Attention along the sequences: ``(B, L, D)`` -> ``(B, L, D)``."""
        b, length, _ = seq.shape
        q, k, v = self._qkv(seq)
        tables = self._tables(length)
        far = self._far_mask(length, seq.device)
        out = relative_attention(q, k, v, *tables, far)
        return out.view(b, self.num_heads, length, -1).transpose(1, 2) \
            .reshape(b, length, self.channels)

    def attention_logits(self, x: Tensor) -> Tensor:
        """Pre-softmax similarities (for analysis and tests).

        Args:
            x: ``(N, D, H, W)``.

        Returns:
            Tensor: ``(N*W, G, H, H)`` for the height axis or
            ``(N*H, G, W, W)`` for the width axis; ``[b, g, o, p]`` is the
            similarity of query ``o`` and key ``p``.
        """
        seq = self._to_sequences(x)
        q, k, _ = self._qkv(seq)
        r_q, r_k, _ = self._tables(seq.shape[1])
        logits = relative_logits(q, k, r_q, r_k,
                                   self._far_mask(seq.shape[1], x.device))
        return logits.view(seq.shape[0], self.num_heads, *logits.shape[1:])

    def forward(self, x: Tensor) -> Tensor:
        """Attend along ``self.axis``.

        Args:
            x: ``(N, D, H, W)``.

        Returns:
            Tensor: ``(N, D, H, W)``.
        """
        return self._from_sequences(self._attend(self._to_sequences(x)),
                                    x.shape)
