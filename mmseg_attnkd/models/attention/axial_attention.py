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
import math
from typing import Optional, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

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
        if _exporting():
            out = _attention_reference(q, k, v, *tables, far)
        elif torch.is_grad_enabled():
            out = _AxialAttentionFn.apply(q, k, v, *tables, far)
        else:
            out = _attention(q, k, v, *tables, far)[0]
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
        logits = _logits_reference(q, k, r_q, r_k,
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


def _exporting() -> bool:
    """True while tracing/exporting: use plain out-of-place ops there."""
    compiling = getattr(torch.compiler, 'is_compiling', lambda: False)()
    return (torch.jit.is_tracing() or torch.jit.is_scripting()
            or torch.onnx.is_in_onnx_export() or compiling)


# The attention of one axis, for ``B`` (batch x heads) sequences of length
# ``L``. Shapes: q, k ``(B, L, c)`` (q pre-scaled), v ``(B, L, c_v)``,
# r_q ``(L_o, c, L_p)``, r_k ``(L_p, c, L_o)`` (pre-scaled),
# r_v ``(L_o, L_p, c_v)``, far ``(L, L)`` bool or None; output
# ``(B, L, c_v)``. Relative terms are batched matmuls over the query (or
# key) position, read straight from strided views of the ``(B, L, L)``
# matrices, so no ``(B, L, L)`` temporary is permuted or gathered.


def _logits_reference(q: Tensor, k: Tensor, r_q: Tensor, r_k: Tensor,
                      far: Optional[Tensor]) -> Tensor:
    """``(B, L, L)`` logits with out-of-place ops (autograd/export)."""
    logits = (torch.bmm(q, k.transpose(1, 2)) +
              torch.bmm(q.transpose(0, 1), r_q).transpose(0, 1) +
              torch.bmm(k.transpose(0, 1), r_k).permute(1, 2, 0))
    if far is not None:
        logits = logits.masked_fill(far, float('-inf'))
    return logits


def _attention_reference(q: Tensor, k: Tensor, v: Tensor, r_q: Tensor,
                         r_k: Tensor, r_v: Tensor,
                         far: Optional[Tensor]) -> Tensor:
    """Out-of-place attention (used when tracing or exporting)."""
    attn = _logits_reference(q, k, r_q, r_k, far).softmax(dim=-1)
    return (torch.bmm(attn, v) +
            torch.bmm(attn.transpose(0, 1), r_v).transpose(0, 1))


def _attention(q: Tensor, k: Tensor, v: Tensor, r_q: Tensor, r_k: Tensor,
               r_v: Tensor, far: Optional[Tensor]) -> Tuple[Tensor, Tensor]:
    """Same maths as :func:`_attention_reference` with the fewest large
    allocations (accumulating in place); returns ``(out, attn)``."""
    logits = torch.bmm(q, k.transpose(1, 2))  # [b, o, p]
    # + q_o . r_q(o, p): batched over o, written into the (o, b, p) view
    logits.transpose(0, 1).baddbmm_(q.transpose(0, 1), r_q)
    # + k_p . r_k(o, p): batched over p; its (p, b, o) result has no
    # unit-stride view inside logits, so it is added as a transpose
    logits += torch.bmm(k.transpose(0, 1), r_k).permute(1, 2, 0)
    if far is not None:
        logits.masked_fill_(far, float('-inf'))
    attn = logits.softmax(dim=-1)
    del logits
    out = torch.bmm(attn, v)
    # + sum_p attn[o, p] r_v(o, p): batched over o
    out.transpose(0, 1).baddbmm_(attn.transpose(0, 1), r_v)
    return out, attn


class _AxialAttentionFn(torch.autograd.Function):
    """:func:`_attention` with a hand-written backward.

    Autograd through the out-of-place version allocates and permutes
    several ``(B, L, L)`` tensors per term; here the backward allocates
    two (the attention gradient, reused in place for the logits gradient,
    and one transposed copy of it) and batches every relative-term product
    over strided views.
    """

    @staticmethod
    def forward(ctx, q: Tensor, k: Tensor, v: Tensor, r_q: Tensor,
                r_k: Tensor, r_v: Tensor,
                far: Optional[Tensor]) -> Tensor:
        out, attn = _attention(q, k, v, r_q, r_k, r_v, far)
        ctx.save_for_backward(q, k, v, r_q, r_k, r_v, attn)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        q, k, v, r_q, r_k, r_v, attn = ctx.saved_tensors
        g = grad_out.contiguous()
        g_t = g.transpose(0, 1)  # (L_o, B, c_v)
        attn_t = attn.transpose(0, 1)  # (L_o, B, L_p)
        grad_v = torch.bmm(attn.transpose(1, 2), g)
        # (L_o, L_p, c_v): sum over b of attn[b, o, p] g[b, o, c]
        grad_r_v = torch.bmm(attn.permute(1, 2, 0), g_t)
        grad = torch.bmm(g, v.transpose(1, 2))  # d out / d attn
        grad.transpose(0, 1).baddbmm_(g_t, r_v.transpose(1, 2))
        # softmax backward in place: attn * (grad - <grad, attn>_row)
        dot = torch.matmul(grad.unsqueeze(-2), attn.unsqueeze(-1))
        grad.sub_(dot.squeeze(-1)).mul_(attn)  # now d loss / d logits
        grad_t = grad.transpose(0, 1)  # (L_o, B, L_p)

        grad_q = torch.bmm(grad, k)
        grad_q.transpose(0, 1).baddbmm_(grad_t, r_q.transpose(1, 2))
        grad_r_q = torch.bmm(q.permute(1, 2, 0), grad_t)  # (L_o, c, L_p)

        grad_k = torch.bmm(grad.transpose(1, 2), q)
        # the k terms batch over p: one contiguous (p, b, o) copy
        grad_pt = grad.permute(2, 0, 1).contiguous()  # (L_p, B, L_o)
        grad_k.transpose(0, 1).baddbmm_(grad_pt, r_k.transpose(1, 2))
        grad_r_k = torch.bmm(k.permute(1, 2, 0), grad_pt)  # (L_p, c, L_o)
        return grad_q, grad_k, grad_v, grad_r_q, grad_r_k, grad_r_v, None


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
