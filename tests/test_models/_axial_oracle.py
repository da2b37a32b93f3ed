# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Test oracle: the first, einsum-based maths of the axial attention block.

Functions of a library module (``mmseg_attnkd.models.attention``'s
``AxialAttention1d`` / ``AxialAttention2d``) that compute its output from its
parameters the way the original implementation did: one einsum per term of
Axial-DeepLab's position-sensitive similarity (Wang et al., ECCV 2020),
relative tables looked up for every (query, key) pair, and functional
convolutions and norms. The library computes the same maths with fewer,
larger kernels; the tests compare outputs and gradients on the same
parameters. Nothing here calls a library method, so a library bug cannot
hide in the reference. Do not optimise it.
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sequences(layer: nn.Module, x: Tensor) -> Tensor:
    """``(N, D, H, W)`` -> ``(N*W, D, H)`` (height) or ``(N*H, D, W)``."""
    n, d, h, w = x.shape
    if layer.axis == 'height':
        return x.permute(0, 3, 1, 2).reshape(n * w, d, h)
    return x.permute(0, 2, 1, 3).reshape(n * h, d, w)


def unsequence(layer: nn.Module, seq: Tensor, shape: torch.Size) -> Tensor:
    """Inverse of :func:`sequences` for a map of ``shape``."""
    n, d, h, w = shape
    if layer.axis == 'height':
        return seq.reshape(n, w, d, h).permute(0, 2, 3, 1)
    return seq.reshape(n, h, d, w).permute(0, 2, 1, 3)


def qkv(layer: nn.Module, seq: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Queries, keys ``(B, G, c_qk, L)`` and values ``(B, G, c_v, L)``."""
    b, _, length = seq.shape
    out = F.conv1d(seq, layer.qkv.weight).reshape(b, layer.num_heads, -1,
                                                  length)
    return torch.split(out, [layer.qk_channels, layer.qk_channels,
                             layer.v_channels], dim=2)


def relative_embeddings(layer: nn.Module, table: Tensor,
                        length: int) -> Tensor:
    """``(d, L, L)``: entry ``[:, o, p]`` encodes the offset ``p - o``
    (the central ``2L-1`` columns of the ``(d, 2*span-1)`` table; a longer
    axis resamples the table or pads it for the window mask)."""
    span = layer.span
    if length <= span:
        table = table[:, span - length:span + length - 1]
    elif layer.long_axis == 'interpolate':
        table = F.interpolate(table[None], size=2 * length - 1,
                              mode='linear', align_corners=True)[0]
    else:
        table = F.pad(table, (length - span, length - span))
    pos = torch.arange(length, device=table.device)
    return table[:, pos[None, :] - pos[:, None] + (length - 1)]


def _logits(layer: nn.Module, q: Tensor, k: Tensor) -> Tensor:
    length = q.shape[-1]
    r_q = relative_embeddings(layer, layer.rel_q, length)
    r_k = relative_embeddings(layer, layer.rel_k, length)
    logits = torch.einsum('bgci,bgcj->bgij', q * layer.scale, k)
    logits = logits + torch.einsum('bgci,cij->bgij', q * layer.scale, r_q)
    logits = logits + torch.einsum('bgcj,cij->bgij', k * layer.scale, r_k)
    if layer.long_axis == 'window' and length > layer.span:
        pos = torch.arange(length, device=q.device)
        far = (pos[None, :] - pos[:, None]).abs() >= layer.span
        logits = logits.masked_fill(far, float('-inf'))
    return logits


def attention_logits(layer: nn.Module, x: Tensor) -> Tensor:
    """Pre-softmax similarities ``(B, G, L, L)`` of ``x`` ``(N, D, H, W)``."""
    q, k, _ = qkv(layer, sequences(layer, x))
    return _logits(layer, q, k)


def axis_forward(layer: nn.Module, x: Tensor) -> Tensor:
    """``AxialAttention1d``: ``(N, D, H, W)`` attended along its axis."""
    seq = sequences(layer, x)
    q, k, v = qkv(layer, seq)
    attn = _logits(layer, q, k).softmax(dim=-1)
    r_v = relative_embeddings(layer, layer.rel_v, seq.shape[-1])
    out = torch.einsum('bgij,bgcj->bgci', attn, v) + \
        torch.einsum('bgij,cij->bgci', attn, r_v)
    return unsequence(layer, out.reshape(seq.shape), x.shape)


def block_forward(block: nn.Module, x: Tensor) -> Tensor:
    """``AxialAttention2d``: refined logits ``(N, C, H, W)``, written as
    ``x + proj(up(relu(gn(attn_w(attn_h(down(relu(gn(embed(x))))))))))``."""
    groups = block.norm1.num_groups
    h = F.conv2d(x, block.embed.weight, block.embed.bias)
    h = F.relu(F.group_norm(h, groups, block.norm1.weight, block.norm1.bias,
                            block.norm1.eps))
    if block.stride > 1:
        h = F.avg_pool2d(h, block.stride, block.stride, ceil_mode=True)
    h = axis_forward(block.attn_w, axis_forward(block.attn_h, h))
    h = F.relu(F.group_norm(h, groups, block.norm2.weight, block.norm2.bias,
                            block.norm2.eps))
    if block.stride > 1:
        h = F.interpolate(h, size=x.shape[2:], mode='bilinear',
                          align_corners=False)
    return x + F.conv2d(h, block.proj.weight, block.proj.bias)
