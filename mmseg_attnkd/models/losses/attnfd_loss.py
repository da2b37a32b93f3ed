# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""AttnFD loss: MSE between L2-normalised refined feature maps.

Reference:
    Mansourian, Jalali, Ahmadi, Kasaei. "Attention-guided Feature
    Distillation for Semantic Segmentation", arXiv 2403.05451.
"""
import math

import torch.nn as nn
import torch.nn.functional as F
from mmrazor.registry import MODELS
from torch import Tensor

__all__ = ['AttnFDLoss', 'NORMALIZE_MODES', 'check_attnfd_loss_args']

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
        batch = preds_S.shape[0]
        if self.normalize in ('channel', 'tensor'):
            # [B, C, HW] per channel map, [B, CHW] per sample
            dims = 2 if self.normalize == 'channel' else 1
            s = F.normalize(preds_S.flatten(dims), p=2, dim=-1, eps=self.eps)
            t = F.normalize(preds_T.flatten(dims), p=2, dim=-1, eps=self.eps)
            loss = (s - t).pow(2).sum(dim=-1).mean()
        else:
            s = preds_S / preds_S.norm(p=2).clamp_min(self.eps)
            t = preds_T / preds_T.norm(p=2).clamp_min(self.eps)
            loss = (s - t).pow(2).sum() / batch
        return self.loss_weight * loss

    def extra_repr(self) -> str:
        return f'normalize={self.normalize!r}, loss_weight={self.loss_weight}'
