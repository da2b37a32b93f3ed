# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""MSE between a segmentor's own outputs (self-distillation)."""
import torch.nn.functional as F
from mmrazor.registry import MODELS
from torch import Tensor, nn

from .self_distill_pair import output_pair

__all__ = ['SelfDistillMSELoss']

_TARGETS = ('prob', 'logits')


@MODELS.register_module()
class SelfDistillMSELoss(nn.Module):
    """Mean squared error between student and teacher segmentation outputs.

    Args:
        loss_weight: Scale of the loss.
        target: ``'prob'`` (default) compares per-pixel class probabilities
            (softmax over ``C``; sigmoid when ``C == 1``): bounded, and blind
            to per-pixel logit shifts that do not change the prediction.
            ``'logits'`` compares raw logits, which nothing bounds: the
            teacher output moves with the student's logits, and in the
            CamVid CPU ablation (bench/README.md) this target diverged at
            SGD lr 0.05 where ``'prob'`` trained normally.
        detach_teacher: Stop the gradient on the teacher side (default
            True), so the MSE pulls the student towards the teacher and never
            the teacher towards the student; without it the refiner can
            lower the loss by collapsing to the identity.

    Forward:
        - preds_S: ``(N, C, H, W)`` student output.
        - preds_T: ``(N, C, H, W)`` teacher output.
        - returns: scalar, ``loss_weight * mean((f(S) - f(T))**2)`` over
          all ``N*C*H*W`` elements.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 target: str = 'prob',
                 detach_teacher: bool = True) -> None:
        super().__init__()
        if target not in _TARGETS:
            raise ValueError(
                f'target must be one of {_TARGETS}, got {target!r}')
        self.loss_weight = loss_weight
        self.target = target
        self.detach_teacher = detach_teacher

    def _transform(self, logits: Tensor) -> Tensor:
        if self.target == 'logits':
            return logits
        if logits.shape[1] == 1:
            return logits.sigmoid()
        return logits.softmax(dim=1)

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        """Compute the MSE.

        Args:
            preds_S: ``(N, C, H, W)``.
            preds_T: ``(N, C, H, W)``.

        Returns:
            Tensor: scalar.
        """
        preds_S, preds_T = output_pair(preds_S, preds_T,
                                       self.detach_teacher)
        return self.loss_weight * F.mse_loss(
            self._transform(preds_S), self._transform(preds_T))
