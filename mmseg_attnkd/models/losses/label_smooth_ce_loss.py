# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""MMSeg's cross-entropy with label smoothing (a control for
self-distillation: Yuan et al., "Revisiting Knowledge Distillation via
Label Smoothing Regularization", CVPR 2020)."""
from mmseg.models.losses import CrossEntropyLoss
from mmseg.models.losses.utils import weight_reduce_loss
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['LabelSmoothCrossEntropyLoss']


@MODELS.register_module()
class LabelSmoothCrossEntropyLoss(CrossEntropyLoss):
    """``(1 - eps) * CE + eps * mean_c(-log p_c)`` per labelled pixel.

    MMSeg's :class:`~mmseg.models.losses.CrossEntropyLoss` (same arguments,
    reduction, ``avg_non_ignore``, pixel weights and ``loss_name``) on
    targets smoothed towards the uniform distribution: with
    ``label_smoothing=0`` it is that loss exactly, and it equals
    ``F.cross_entropy(..., label_smoothing=eps)`` otherwise. Use it as a
    decode head's ``loss_decode``.

    Args:
        label_smoothing: ``eps`` in ``[0, 1)``. Defaults to 0.1.
        **kwargs: :class:`CrossEntropyLoss` arguments (softmax only; no
            ``class_weight`` when ``eps > 0``).
    """

    def __init__(self, label_smoothing: float = 0.1, **kwargs) -> None:
        super().__init__(**kwargs)
        if not 0 <= label_smoothing < 1:
            raise ValueError('LabelSmoothCrossEntropyLoss: label_smoothing '
                             f'must lie in [0, 1), got {label_smoothing!r}.')
        if self.use_sigmoid or self.use_mask or (
                label_smoothing and self.class_weight is not None):
            raise ValueError(
                'LabelSmoothCrossEntropyLoss smooths a softmax CE without '
                'class_weight; drop use_sigmoid/use_mask/class_weight or use '
                'CrossEntropyLoss.')
        self.label_smoothing = float(label_smoothing)

    def forward(self, cls_score: Tensor, label: Tensor, weight=None,
                avg_factor=None, reduction_override=None,
                ignore_index: int = -100, **kwargs) -> Tensor:
        """``cls_score`` ``(N, C, H, W)``, ``label`` ``(N, H, W)``."""
        ce = super().forward(cls_score, label, weight, avg_factor,
                             reduction_override, ignore_index, **kwargs)
        eps = self.label_smoothing
        if not eps:
            return ce
        reduction = reduction_override or self.reduction
        labelled = label != ignore_index
        uniform = -cls_score.log_softmax(dim=1).mean(dim=1) * labelled
        if avg_factor is None and reduction == 'mean':
            avg_factor = int(labelled.sum()) if self.avg_non_ignore else \
                label.numel()
        uniform = weight_reduce_loss(
            uniform, weight=None if weight is None else weight.float(),
            reduction=reduction, avg_factor=avg_factor)
        return (1 - eps) * ce + eps * self.loss_weight * uniform
