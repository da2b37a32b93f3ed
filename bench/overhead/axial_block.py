# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The axial block alone: forward and forward+backward
(``bench/overhead/run.py``).

The block is the ``AxialAttention2d`` that ``AxialSelfDistiller`` builds
for the demo student (package defaults, and with ``stride=2``), taken out
of the built distillation model, on logits of the demo step's shape
``(batch, 11, ceil(H/4), ceil(W/4))`` (``(8, 11, 45, 60)`` at 180x240).
Beside it, :class:`FullSDPA2d`: the same block with full (non-axial)
multi-head self-attention over the same positions, computed with
``torch.nn.functional.scaled_dot_product_attention`` with equal head
widths (so that PyTorch's CPU flash kernel runs and no attention matrix is
materialised) and no relative encodings.

Modes: ``fwd`` (autograd on, as in a training step; the graph is then
dropped), ``fwd_nograd`` (inference) and ``fwd_bwd`` (forward, backward of
``mean(y**2)`` to the input and the parameters).
"""
import math
import time
from typing import Callable, Dict, List, Sequence, Tuple

from bench.lib import timing
from bench.overhead import arms as overhead_arms

MODES = ('fwd', 'fwd_nograd', 'fwd_bwd')
BLOCKS = ('axial', 'full_sdpa')


def logits_shape(size: Sequence[int], batch: int) -> Tuple[int, ...]:
    """Decode-head logits of DeepLabV3+ (output at 1/4: ResNet stem)."""
    return (batch, overhead_arms.NUM_CLASSES, math.ceil(size[0] / 4),
            math.ceil(size[1] / 4))


def axial_block(size: Sequence[int], batch: int, stride: int):
    """The ``AxialAttention2d`` of the demo student's axial SD distiller.

    Args:
        size: Input size of the demo step.
        batch: Its batch size.
        stride: 1 (the package default: no ``axial`` options) or more
            (``axial=dict(stride=stride)``).
    """
    from bench.lib import common
    s = overhead_arms.Setting('demo', tuple(size), batch)
    student, _ = overhead_arms.models(s)
    cfg = overhead_arms.axial_sd_model(
        student, dict(stride=stride) if stride > 1 else None)
    model = common.build_model(cfg, seed=0)
    block = model.distiller.connectors['axial'].axial
    if block.stride != stride:
        raise RuntimeError(f'the distiller built stride {block.stride}, '
                           f'expected {stride}')
    return block.train()


def full_sdpa_cls():
    """:class:`FullSDPA2d` (defined lazily: torch imported on use)."""
    import torch.nn.functional as F
    from torch import nn

    class FullSDPA2d(nn.Module):
        """Residual multi-head self-attention over all positions (SDPA).

        Same widths, norms, pooling and residual as ``AxialAttention2d``;
        one attention over the ``ceil(H/s) * ceil(W/s)`` positions instead
        of two axial passes, no relative encodings.

        Query, key and value have ``D/G`` channels per head. (The axial
        block's query/key are ``D/G // 2`` wide; with unequal head widths
        PyTorch's CPU ``scaled_dot_product_attention`` falls back to its
        math kernel, which materialises every attention matrix.)

        Args:
            in_channels: Logit channels ``C``.
            channels: Hidden width ``D``.
            num_heads: Heads ``G``.
            stride: Average-pooling factor of the attended grid.
        """

        def __init__(self, in_channels: int, channels: int = 64,
                     num_heads: int = 8, stride: int = 1) -> None:
            super().__init__()
            self.heads, self.stride = num_heads, stride
            self.embed = nn.Conv2d(in_channels, channels, 1)
            self.norm1 = nn.GroupNorm(num_heads, channels)
            self.qkv = nn.Conv2d(channels, 3 * channels, 1, bias=False)
            self.norm2 = nn.GroupNorm(num_heads, channels)
            self.proj = nn.Conv2d(channels, in_channels, 1)
            self.act = nn.ReLU()

        def forward(self, x):
            h = self.act(self.norm1(self.embed(x)))
            if self.stride > 1:
                h = F.avg_pool2d(h, self.stride, self.stride, ceil_mode=True)
            n, _, gh, gw = h.shape
            # (N, G, L, c) per head, positions L = gh * gw
            qkv = self.qkv(h).reshape(n, self.heads, -1, gh * gw)
            q, k, v = qkv.transpose(2, 3).chunk(3, dim=3)
            out = F.scaled_dot_product_attention(q, k, v)
            out = out.transpose(2, 3).reshape(n, -1, gh, gw)
            out = self.act(self.norm2(out))
            if self.stride > 1:
                out = F.interpolate(out, size=x.shape[2:], mode='bilinear',
                                    align_corners=False)
            return x + self.proj(out)

    return FullSDPA2d


def full_block(axial, stride: int):
    """:class:`FullSDPA2d` as wide as the ``axial`` block."""
    import torch
    torch.manual_seed(0)
    return full_sdpa_cls()(axial.in_channels, axial.channels,
                           axial.norm1.num_groups, stride).train()


def mode_step(block, x, mode: str) -> Callable[[], float]:
    """A step running ``block`` on ``x`` in ``mode``; returns its seconds."""
    import torch

    def step() -> float:
        inp = x.detach().requires_grad_(mode != 'fwd_nograd')
        start = time.perf_counter()
        with torch.set_grad_enabled(mode != 'fwd_nograd'):
            y = block(inp)
            if mode == 'fwd_bwd':
                y.square().mean().backward()
        took = time.perf_counter() - start
        block.zero_grad(set_to_none=True)
        return took

    return step


def measure(size: Sequence[int], batch: int, strides: Sequence[int],
            rounds: int, warmup: int,
            blocks: Sequence[str] = BLOCKS) -> Dict[str, object]:
    """Round-robin times of every (block, stride, mode).

    Returns:
        dict: ``shape`` of the logits, ``params`` per row and ``times_s``
        ``{'<block>_s<stride>': {mode: [seconds per round]}}``.
    """
    import torch
    shape = logits_shape(size, batch)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=gen)
    steps, params = {}, {}
    for stride in strides:
        axial = axial_block(size, batch, stride)
        mods = dict(axial=axial, full_sdpa=full_block(axial, stride))
        for name in blocks:
            row = f'{name}_s{stride}'
            params[row] = sum(p.numel() for p in mods[name].parameters())
            for mode in MODES:
                steps[f'{row}/{mode}'] = mode_step(mods[name], x, mode)
    flat = timing.round_robin(steps, rounds, warmup, label='[block] ')
    times: Dict[str, Dict[str, List[float]]] = {}
    for key, ts in flat.items():
        row, mode = key.split('/')
        times.setdefault(row, {})[mode] = ts
    return dict(shape=list(shape), params=params, times_s=times)
