# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""AttnFD loss: MSE between L2-normalised refined feature maps.

Reference:
    Mansourian, Jalali, Ahmadi, Kasaei. "Attention-guided Feature
    Distillation for Semantic Segmentation", arXiv 2403.05451.
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmrazor.registry import MODELS
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = [
    'AttnFDLoss', 'NORMALIZE_MODES', 'check_attnfd_loss_args', 'as_rows',
    'normalize_rows', 'row_norms', 'rows_loss_and_grad', 'rows_coef',
    'reduce_rows'
]

NORMALIZE_MODES = ('channel', 'tensor', 'batch')


def check_attnfd_loss_args(normalize: str, loss_weight: float,
                           owner: str = 'AttnFDLoss') -> None:
    """Refuse an unknown ``normalize`` or a negative/non-finite weight."""
    if normalize not in NORMALIZE_MODES:
        raise ValueError(
            f'{owner}: normalize must be one of {NORMALIZE_MODES} '
            f"('channel' = per-channel L2 over HxW as in the paper, "
            f"'tensor' = one norm per sample, 'batch' = one norm per "
            f'batch tensor as in the public code), got {normalize!r}.')
    if not math.isfinite(float(loss_weight)) or float(loss_weight) < 0:
        raise ValueError(
            f'{owner}: loss_weight must be a finite number >= 0, got '
            f'{loss_weight}.')


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


def rows_coef(normalize: str, batch: int, channels: int, loss_weight: float,
              like: Tensor) -> Tensor:
    """Derivative of the AttnFD loss w.r.t. one row loss, as autograd
    forms it (``loss_weight``, then divided by the number of rows or by
    ``B``), a 0-dim tensor of ``like``'s dtype (at least float32) and
    device."""
    num = batch * channels if normalize == 'channel' else batch
    dtype = torch.promote_types(like.dtype, torch.float32)
    # 1 * loss_weight as MulBackward forms it (overflows to inf, no error)
    weight = torch.ones((), dtype=dtype, device=like.device) * loss_weight
    return weight / num


def reduce_rows(row_loss: Tensor, normalize: str, batch: int,
                loss_weight: float) -> Tensor:
    """The AttnFD loss from its row losses (mean, or sum over ``B``)."""
    if normalize == 'batch':
        return loss_weight * (row_loss / batch)
    return loss_weight * row_loss.mean()


class _RowsLoss(torch.autograd.Function):
    """AttnFD loss of feature rows; keeps only the gradient for backward.

    ``forward(rows, target, eps, normalize, batch, channels,
    loss_weight)``: the gradient (one tensor the size of ``rows``) is
    computed together with the value, so none of the normalised maps,
    differences or norms is stored between forward and backward.
    """

    @staticmethod
    def forward(ctx, rows: Tensor, target: Tensor, eps: float,
                normalize: str, batch: int, channels: int,
                loss_weight: float) -> Tensor:
        need = ctx.needs_input_grad[0]
        coef = rows_coef(normalize, batch, channels, loss_weight, rows)
        row_loss, grad = rows_loss_and_grad(rows, target, eps, coef, need,
                                            full=normalize == 'batch')
        ctx.grad = grad
        return reduce_rows(row_loss, normalize, batch, loss_weight)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        return (ctx.grad * grad_out, None, None, None, None, None, None)


@MODELS.register_module()
class AttnFDLoss(nn.Module):
    """Distance between L2-normalised student and teacher feature maps.

    Three normalisations are available:

    * ``'channel'`` (paper): every channel map (over ``H x W``) of every
      sample is divided by its L2 norm; the loss is the squared L2 distance
      between matching student/teacher channel maps, averaged over batch and
      channels, i.e. ``mean_{b,c} || s_bc/|s_bc| - t_bc/|t_bc| ||^2``.
    * ``'tensor'``: every sample's ``[C, H, W]`` map is divided by its L2
      norm; the squared distances are averaged over the batch,
      ``mean_b || s_b/|s_b| - t_b/|t_b| ||^2``.
    * ``'batch'`` (public AttnFD code): the whole ``[B, C, H, W]`` tensor is
      divided by one L2 norm and the summed squared difference by ``B``. Its
      value shrinks roughly as ``1/B``, so the effective weight changes with
      the batch size per GPU; kept to reproduce the public code.

    ``'channel'`` and ``'tensor'`` lie in ``[0, 4]`` whatever the batch size,
    channels and resolution, so one ``loss_weight`` transfers between
    set-ups. All three are invariant to scaling either input by a positive
    factor and are 0 for identical inputs. If the spatial sizes differ, the
    student map is resized bilinearly to the teacher's. The teacher input is
    detached.

    Args:
        normalize: ``'channel'`` or ``'tensor'``. Defaults to ``'channel'``.
        loss_weight: Multiplier of the loss. Defaults to 1.0 (the
            :class:`AttnFDDistiller` passes its ``loss_weight``).
        eps: Lower bound of the norms (all-zero maps). Defaults to 1e-12.
        align_corners: ``align_corners`` of the bilinear resize.
            Defaults to False.
    """

    def __init__(self,
                 normalize: str = 'channel',
                 loss_weight: float = 1.0,
                 eps: float = 1e-12,
                 align_corners: bool = False) -> None:
        super().__init__()
        check_attnfd_loss_args(normalize, loss_weight)
        self.normalize = normalize
        self.loss_weight = float(loss_weight)
        self.eps = float(eps)
        self.align_corners = align_corners

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        """Compute the loss.

        Args:
            preds_S: Student features ``[B, C, Hs, Ws]`` (after the student
                connector, so ``C`` equals the teacher's).
            preds_T: Teacher features ``[B, C, Ht, Wt]``.

        Returns:
            Tensor: Scalar loss (times ``loss_weight``).
        """
        if preds_S.dim() != 4 or preds_T.dim() != 4:
            raise ValueError(
                'AttnFDLoss expects [B, C, H, W] feature maps, got student '
                f'{tuple(preds_S.shape)} and teacher {tuple(preds_T.shape)}.')
        if preds_S.shape[:2] != preds_T.shape[:2]:
            raise ValueError(
                f'AttnFDLoss: student {tuple(preds_S.shape)} and teacher '
                f'{tuple(preds_T.shape)} differ in batch or channels. Enable '
                'channel alignment (AttnFDDistiller align=True, or a '
                'CBAMConnector with out_channels=teacher channels).')
        preds_T = preds_T.detach().to(preds_S.dtype)
        if preds_S.shape[2:] != preds_T.shape[2:]:
            preds_S = F.interpolate(
                preds_S,
                size=preds_T.shape[2:],
                mode='bilinear',
                align_corners=self.align_corners)
        batch, channels = preds_S.shape[:2]
        target = normalize_rows(as_rows(preds_T, self.normalize), self.eps,
                                full=self.normalize == 'batch')
        return _RowsLoss.apply(
            as_rows(preds_S, self.normalize), target, self.eps,
            self.normalize, batch, channels, self.loss_weight)

    def extra_repr(self) -> str:
        return f'normalize={self.normalize!r}, loss_weight={self.loss_weight}'
