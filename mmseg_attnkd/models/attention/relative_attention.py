# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Position-sensitive attention of one axis: three code paths, one maths.

:func:`relative_attention` computes, for ``B`` (batch x heads) sequences of
length ``L``, ``softmax(q k^T + q r_q + k r_k) (v + r_v)`` with relative
terms (see :class:`~.axial_attention1d.AxialAttention1d`). It dispatches to

* a hand-written autograd function when gradients are needed (two large
  temporaries, the softmax gradient in place),
* an in-place forward without autograd (inference),
* plain out-of-place ops while tracing or exporting (ONNX, TorchScript).
"""
import functools
from typing import Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from mmseg_attnkd.utils.precision import autocast_disabled

__all__ = ['relative_attention', 'relative_logits']


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


def relative_logits(q: Tensor, k: Tensor, r_q: Tensor, r_k: Tensor,
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
    attn = relative_logits(q, k, r_q, r_k, far).softmax(dim=-1)
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


def relative_attention(q: Tensor, k: Tensor, v: Tensor, r_q: Tensor,
                       r_k: Tensor, r_v: Tensor,
                       far: Optional[Tensor]) -> Tensor:
    """Attention of one axis with relative terms.

    Args:
        q: ``(B, L, c)`` queries, pre-scaled.
        k: ``(B, L, c)`` keys.
        v: ``(B, L, c_v)`` values.
        r_q: ``(L, c, L)`` query table per (query, key) pair.
        r_k: ``(L, c, L)`` key table, pre-scaled.
        r_v: ``(L, L, c_v)`` value table.
        far: ``(L, L)`` bool mask of pairs outside the window, or None.

    Returns:
        Tensor: ``(B, L, c_v)``.
    """
    if _exporting():
        return _attention_reference(q, k, v, r_q, r_k, r_v, far)
    # Under autocast the projections arrive in bf16/fp16 and the tables in
    # fp32, and the in-place accumulation needs one dtype: the widest, with
    # autocast off (as autocast itself promotes mixed inputs).
    tensors = (q, k, v, r_q, r_k, r_v)
    dtype = functools.reduce(torch.promote_types, (t.dtype for t in tensors))
    with autocast_disabled():
        q, k, v, r_q, r_k, r_v = (t.to(dtype) for t in tensors)
        if torch.is_grad_enabled():
            return _AxialAttentionFn.apply(q, k, v, r_q, r_k, r_v, far)
        return _attention(q, k, v, r_q, r_k, r_v, far)[0]
