# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Apply a decode head's own loss settings to other logits."""
import inspect

from mmengine.structures import PixelData
from mmrazor.registry import MODELS
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.structures import SegDataSample
from torch import Tensor, nn

__all__ = ['DecodeHeadLoss']


@MODELS.register_module()
class DecodeHeadLoss(nn.Module):
    """The segmentation loss of a bound MMSeg decode head, on given logits.

    Self-distillation trains an extra output (e.g. the axial "teacher"
    logits) with exactly the task loss of the head it refines. This loss
    calls the head's own ``BaseDecodeHead.loss_by_feat`` (its
    ``loss_decode`` module(s) with class weights, ``avg_non_ignore`` and
    loss weights, ``ignore_index``, ``align_corners``, pixel ``sampler``
    such as OHEM; logits resized to the label size) and sums its ``loss*``
    entries.

    A head whose ``loss_by_feat`` reads several training outputs (DANet's
    three maps, EncNet's ``(logits, se_output)``, PIDNet's P/I/D maps)
    cannot take one logit map; the logits then get the loss of its
    *main* output: MMSeg's ``BaseDecodeHead.loss_by_feat`` when the head has
    one ``loss_decode`` (DANet, EncNet: its settings as above), else the
    first of its ``loss_decode`` modules on the logits resized to the labels
    with the head's ``ignore_index`` (PIDNet, DDRNet: a segmentation loss).

    The head is bound at prepare time by ``AxialSelfDistiller`` via
    :meth:`bind_head`; it is referenced, not owned (no duplicated weights in
    checkpoints).

    Args:
        loss_weight: Multiplies the summed head losses.

    Forward:
        - seg_logits: ``(N, C, h, w)`` logits at any resolution.
        - seg_label: ``(N, H, W)`` or ``(N, 1, H, W)`` integer labels, e.g.
          the second positional input recorded at the head's
          ``loss_decode``.
        - returns: scalar loss.
    """

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._head = None  # a 1-tuple, so nn.Module does not register it

    def bind_head(self, head: nn.Module) -> None:
        """Use ``head``'s loss settings (an MMSeg ``BaseDecodeHead``)."""
        missing = [
            a for a in ('loss_by_feat', 'loss_decode', 'ignore_index')
            if not hasattr(head, a)
        ]
        if missing:
            raise TypeError(
                f'DecodeHeadLoss needs an MMSeg decode head (BaseDecodeHead) '
                f'but {type(head).__name__} has no {", ".join(missing)}; '
                'point the distiller at the model\'s decode head.')
        self._head = (head, )

    @property
    def head(self) -> nn.Module:
        if self._head is None:
            raise RuntimeError(
                'DecodeHeadLoss is not bound to a decode head: call '
                'bind_head(model.decode_head) first, or use it through '
                'AxialSelfDistiller, which binds it at prepare time.')
        return self._head[0]

    def forward(self, seg_logits: Tensor, seg_label: Tensor) -> Tensor:
        """Compute the head's loss on ``seg_logits``.

        Args:
            seg_logits: ``(N, C, h, w)``.
            seg_label: ``(N, H, W)`` or ``(N, 1, H, W)``.

        Returns:
            Tensor: scalar.
        """
        head = self.head
        if seg_label.dim() == 3:
            seg_label = seg_label.unsqueeze(1)
        if seg_label.dim() != 4 or seg_label.shape[0] != seg_logits.shape[0]:
            raise ValueError(
                f'seg_label of shape {tuple(seg_label.shape)} does not match '
                f'seg_logits {tuple(seg_logits.shape)}: expected (N, H, W) '
                'labels, e.g. data_idx=1 of a ModuleInputs recorder on the '
                'head\'s loss_decode.')
        # The head's own loss_by_feat (resize, sampler, every loss module
        # summed per name), fed the labels as the data samples it reads.
        samples = [
            SegDataSample(gt_sem_seg=PixelData(data=label))
            for label in seg_label
        ]
        if type(head).loss_by_feat is BaseDecodeHead.loss_by_feat or \
                not isinstance(head, BaseDecodeHead):
            losses = head.loss_by_feat(seg_logits, samples)
        elif not isinstance(head.loss_decode, nn.ModuleList):
            # one output's loss of a several-output head (DANet, EncNet)
            losses = BaseDecodeHead.loss_by_feat(head, seg_logits, samples)
        else:
            losses = dict(loss=self._first_loss(head, seg_logits, seg_label))
        total = sum(v for k, v in losses.items() if 'loss' in k)
        return total * self.loss_weight

    @staticmethod
    def _first_loss(head: nn.Module, seg_logits: Tensor,
                    seg_label: Tensor) -> Tensor:
        """``head.loss_decode[0]`` on ``(N, C, h, w)`` logits resized to the
        ``(N, 1, H, W)`` labels; a scalar."""
        seg_logits = resize(seg_logits, size=seg_label.shape[2:],
                            mode='bilinear',
                            align_corners=head.align_corners)
        loss = head.loss_decode[0]
        # CrossEntropyLoss takes the head's ignore_index; OhemCrossEntropy
        # (DDRNet, PIDNet) has its own ``ignore_label``
        kwargs = dict(ignore_index=head.ignore_index) if 'ignore_index' in \
            inspect.signature(loss.forward).parameters else {}
        return loss(seg_logits, seg_label.squeeze(1), **kwargs)
