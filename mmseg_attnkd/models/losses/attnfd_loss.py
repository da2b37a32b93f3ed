# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""AttnFD loss: MSE between L2-normalised refined feature maps.

The one home of the loss: its options are checked and stored here, its
weight and reduction applied here, and :meth:`AttnFDLoss.connector_loss`
picks the fused stage path (:mod:`.attnfd_fused`, value and gradients found
in the forward pass) or the module-by-module one.

Reference:
    Mansourian, Jalali, Ahmadi, Kasaei. "Attention-guided Feature
    Distillation for Semantic Segmentation", arXiv 2403.05451.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmrazor.registry import MODELS
from torch import Tensor
from torch.autograd.function import once_differentiable

from .attnfd_fused import attnfd_stage_loss, fusable_connector
from .attnfd_rows import (as_rows, normalize_rows, row_norms,
                          rows_loss_and_grad)

__all__ = [
    'AttnFDLoss', 'NORMALIZE_MODES', 'check_attnfd_loss_args', 'as_rows',
    'normalize_rows', 'row_norms', 'rows_loss_and_grad', 'rows_coef',
    'reduce_rows', 'fusable_stage'
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

    ``forward(rows, target, loss, batch, channels)``: the gradient (one
    tensor the size of ``rows``) is computed together with the value, so
    none of the normalised maps, differences or norms is stored between
    forward and backward.
    """

    @staticmethod
    def forward(ctx, rows: Tensor, target: Tensor, loss: 'AttnFDLoss',
                batch: int, channels: int) -> Tensor:
        need = ctx.needs_input_grad[0]
        coef = loss.rows_coef(batch, channels, rows)
        row_loss, grad = rows_loss_and_grad(rows, target, loss.eps, coef,
                                            need, full=loss.full)
        ctx.grad = grad
        return loss.reduce_rows(row_loss, batch)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor):
        return (ctx.grad * grad_out, None, None, None, None)


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
                                full=self.full)
        return _RowsLoss.apply(as_rows(preds_S, self.normalize), target,
                               self, batch, channels)

    @property
    def full(self) -> bool:
        """One norm over the whole batch tensor (``'batch'`` mode)."""
        return self.normalize == 'batch'

    def rows_coef(self, batch: int, channels: int, like: Tensor) -> Tensor:
        """Derivative of the loss w.r.t. one row loss (see
        :func:`rows_coef`), a 0-dim tensor on ``like``'s device."""
        return rows_coef(self.normalize, batch, channels, self.loss_weight,
                         like)

    def reduce_rows(self, row_loss: Tensor, batch: int) -> Tensor:
        """The weighted loss from its row losses ``[B, C]``, ``[B, 1]`` or
        0-dim (see :func:`as_rows`)."""
        return reduce_rows(row_loss, self.normalize, batch, self.loss_weight)

    def connector_loss(self, feature: Tensor, connector: nn.Module,
                       target: Tensor,
                       target_is_scratch: bool = False) -> Tensor:
        """``self(connector(feature), target)``, by the fused path where it
        applies.

        The fused path (:func:`.attnfd_stage_loss`) gives the same value and
        the same gradients w.r.t. ``feature`` and the connector's
        parameters, found in the forward pass, so that no activation of the
        student branch is kept until backward. It applies to the package's
        ``CBAMConnector`` and this very class (see :func:`fusable_stage`);
        anything else runs module by module.

        Args:
            feature: Student record ``[B, C_s, H, W]``.
            connector: The stage's student connector.
            target: Teacher map ``[B, C_t, Ht, Wt]`` (after its connector).
            target_is_scratch: ``target`` is a temporary nobody else reads
                (the fused path may normalise it in place).

        Returns:
            Tensor: Scalar loss (times ``loss_weight``).
        """
        if fusable_stage(connector, self, feature, target):
            return attnfd_stage_loss(feature, connector, target, self,
                                     target_is_scratch=target_is_scratch)
        return self(connector(feature), target)

    def extra_repr(self) -> str:
        return f'normalize={self.normalize!r}, loss_weight={self.loss_weight}'


def fusable_stage(connector: nn.Module, loss: nn.Module, feature: Tensor,
                  target: Tensor) -> bool:
    """Whether :meth:`AttnFDLoss.connector_loss` takes the fused path.

    It does for exactly :class:`AttnFDLoss` (a subclass may change the
    formula) and a connector, maps and autograd state that
    :func:`.fusable_connector` accepts.

    Args:
        connector: Student connector of the stage.
        loss: Loss module of the stage.
        feature: Student record ``[B, C_s, H, W]``.
        target: Teacher connector output ``[B, C_t, H, W]``.
    """
    return type(loss) is AttnFDLoss and \
        fusable_connector(connector, feature, target)
