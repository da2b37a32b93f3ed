# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Row math of the AttnFD loss: L2-normalised rows and their gradient.

The weight-free part shared by :class:`.AttnFDLoss` and its fused stage
path (:mod:`.attnfd_fused`); the weight and the reduction are applied by
the loss itself.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

__all__ = ['as_rows', 'row_norms', 'normalize_rows', 'rows_loss_and_grad']


def as_rows(x: Tensor, normalize: str) -> Tensor:
    """The rows that ``normalize`` divides by their L2 norms (a view).

    Args:
        x: Feature map ``[B, C, H, W]``.
        normalize: ``'channel'``, ``'tensor'`` or ``'batch'``.

    Returns:
        Tensor: ``[B, C, H*W]`` (channel), ``[B, 1, C*H*W]`` (tensor) or
        ``[1, 1, B*C*H*W]`` (batch).
    """
    if normalize == 'channel':
        return x.flatten(2)
    if normalize == 'tensor':
        return x.flatten(1).unsqueeze(1)
    return x.reshape(1, 1, -1)


def row_norms(rows: Tensor, full: bool = False) -> Tensor:
    """L2 norms of ``rows`` ``[..., N]`` along the last dim (kept as size
    1), or of the whole tensor (0-dim) with ``full``."""
    if full:
        return torch.linalg.vector_norm(rows)
    return torch.linalg.vector_norm(rows, dim=-1, keepdim=True)


def normalize_rows(rows: Tensor, eps: float, full: bool = False) -> Tensor:
    """``rows / max(||rows||_2, eps)`` (no autograd).

    Args:
        rows: ``[..., N]``.
        eps: Lower bound of the norms.
        full: One norm for the whole tensor (``'batch'`` mode) instead of
            one per row (last dim).

    Returns:
        Tensor: ``[..., N]``, every row of unit norm (or below).
    """
    with torch.no_grad():
        return rows / row_norms(rows, full).clamp_min(eps)


def rows_loss_and_grad(rows: Tensor, target: Tensor, eps: float,
                       coef: Tensor, need_grad: bool, full: bool = False
                       ) -> Tuple[Tensor, Optional[Tensor]]:
    """Squared distances of normalised rows, and their gradient.

    With ``u = rows / max(n, eps)`` (``n`` the row norm) and the normalised
    ``target`` ``v``, the row loss is ``||u - v||^2``. The gradient of
    ``coef`` times the row losses is computed with the operations autograd
    runs for ``F.normalize`` followed by ``(u - v).pow(2).sum(-1)``, in the
    same order (so the result is bit for bit the same), but without a graph
    and with at most three row-sized temporaries.

    Args:
        rows: ``[..., N]`` (no autograd graph is recorded).
        target: ``[..., N]``, already normalised.
        eps: Lower bound of the norms.
        coef: 0-dim derivative of the loss w.r.t. each row loss, in the
            dtype of ``rows`` (see :func:`rows_coef`).
        need_grad: Compute the gradient.
        full: One norm over the whole tensor (``'batch'`` mode).

    Returns:
        tuple[Tensor, Tensor | None]: Row losses ``[...]`` (0-dim with
        ``full``) and the gradient w.r.t. ``rows`` ``[..., N]`` (None
        unless ``need_grad``).
    """
    with torch.no_grad():
        norm = row_norms(rows, full)
        denom = norm.clamp_min(eps)
        unit = rows / denom
        diff = unit - target
        squares = diff.pow(2)
        row_loss = squares.sum() if full else squares.sum(dim=-1)
        del squares
        if not need_grad:
            return row_loss, None
        # d/du of coef * ||u - v||^2 (PowBackward: grad * (2 * d))
        grad_unit = diff.mul_(2.0).mul_(coef)
        # DivBackward, divisor side: -grad * ((x / den) / den), summed
        grad_denom = unit.div_(denom).mul_(grad_unit).neg_()
        grad_denom = grad_denom.sum() if full else \
            grad_denom.sum(dim=-1, keepdim=True)
        del unit
        # ClampMinBackward, then LinalgVectorNormBackward (p=2)
        zero = torch.zeros((), dtype=rows.dtype, device=rows.device)
        grad_norm = torch.where(norm >= eps, grad_denom, zero)
        through_norm = (rows / norm).masked_fill_(norm == 0, 0)
        through_norm.mul_(grad_norm)
        # DivBackward, dividend side, plus the norm path
        return row_loss, grad_unit.div_(denom).add_(through_norm)
