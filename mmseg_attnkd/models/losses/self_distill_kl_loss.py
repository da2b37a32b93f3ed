# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Softened KL divergence from a segmentor's own teacher output."""
import torch
import torch.nn.functional as F
from mmrazor.registry import MODELS
from torch import Tensor, nn

from mmseg_attnkd.utils.precision import autocast_disabled

from .self_distill_pair import output_pair

__all__ = ['SelfDistillKLLoss']


@MODELS.register_module()
class SelfDistillKLLoss(nn.Module):
    """``tau**2 * KL(p_T || p_S)`` per pixel, with temperature ``tau``.

    The consistency term of axial self-distillation as knowledge
    distillation (Hinton et al. 2015): the student output matches the
    softened class distribution of the (detached) teacher output, and
    ``tau**2`` keeps the gradient scale independent of ``tau``. Use it in
    place of :class:`SelfDistillMSELoss`:
    ``distiller=dict(type='AxialSelfDistiller',
    mse=dict(type='SelfDistillKLLoss', tau=2.0))``. Unlike the MSE of
    probabilities, whose gradient vanishes as a class probability nears 0
    or 1, the KL keeps pulling on the relative scores of all classes.

    Args:
        tau: Temperature (> 0). Defaults to 1.0.
        loss_weight: Scale of the loss. Defaults to 1.0.
        detach_teacher: Stop the gradient on the teacher side (default
            True), so the teacher output is a target, never pulled towards
            the student.

    Forward:
        - preds_S: ``(N, C, H, W)`` student logits.
        - preds_T: ``(N, C, H, W)`` teacher logits.
        - returns: scalar, the KL summed over classes and averaged over
          the ``N*H*W`` pixels (``C == 1``: a per-pixel Bernoulli KL).
    """

    def __init__(self,
                 tau: float = 1.0,
                 loss_weight: float = 1.0,
                 detach_teacher: bool = True) -> None:
        super().__init__()
        if not tau > 0:
            raise ValueError(f'SelfDistillKLLoss: tau must be > 0, got '
                             f'{tau!r}; 1 is plain KD, 2-4 soften more.')
        self.tau = float(tau)
        self.loss_weight = loss_weight
        self.detach_teacher = detach_teacher

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        """Compute the loss; see the class docstring for shapes."""
        preds_S, preds_T = output_pair(preds_S, preds_T,
                                       self.detach_teacher)
        # in fp32 whatever the autocast around it: a bf16 log-ratio of near
        # probabilities loses the small differences this term is made of
        with autocast_disabled():
            s = preds_S.float() / self.tau
            t = preds_T.float() / self.tau
            if s.shape[1] == 1:  # one sigmoid channel: p and 1 - p
                s, t = (torch.cat([x, -x], dim=1) for x in (s, t))
                log_s, log_t = F.logsigmoid(s), F.logsigmoid(t)
            else:
                log_s = F.log_softmax(s, dim=1)
                log_t = F.log_softmax(t, dim=1)
            kl = (log_t.exp() * (log_t - log_s)).sum(dim=1)
            return self.loss_weight * self.tau**2 * kl.mean()
