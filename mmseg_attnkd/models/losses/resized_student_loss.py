# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Apply a feature loss after resizing the student map to the teacher's."""
from typing import Dict

import torch.nn.functional as F
from mmrazor.registry import MODELS
from torch import Tensor, nn

__all__ = ['ResizedStudentLoss']


@MODELS.register_module()
class ResizedStudentLoss(nn.Module):
    """Any ``loss(student, teacher)`` on maps of different spatial size.

    Many feature losses (``ATLoss``, ``OFDLoss``, ``MGDLoss``) need student
    and teacher maps of one size; a student with another output stride gives
    smaller maps. This wrapper resizes the student map bilinearly to the
    teacher's ``H x W`` (gradients flow through the resize) and calls the
    wrapped loss with ``(student, teacher)``.

    Args:
        loss: Config of the wrapped loss (built with MMRazor's ``MODELS``).
        align_corners: ``align_corners`` of the resize. Defaults to False.

    Forward:
        - preds_S: ``[N, C_s, h, w]`` student map (after its connector).
        - preds_T: ``[N, C_t, H, W]`` teacher map.
        - returns: what the wrapped loss returns.
    """

    def __init__(self, loss: Dict, align_corners: bool = False) -> None:
        super().__init__()
        self.loss = MODELS.build(loss)
        self.align_corners = align_corners

    def forward(self, preds_S: Tensor, preds_T: Tensor) -> Tensor:
        """Resize ``preds_S`` to ``preds_T``'s ``H x W``, then the loss."""
        if preds_S.dim() == 4 and preds_S.shape[2:] != preds_T.shape[2:]:
            preds_S = F.interpolate(
                preds_S, size=preds_T.shape[2:], mode='bilinear',
                align_corners=self.align_corners)
        return self.loss(preds_S, preds_T)
