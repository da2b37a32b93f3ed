# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""An MMSeg decode head whose logits are refined by axial attention.

This is the inference form of axial self-distillation's *teacher output*:
``AxialRefineHead(base_head, axial)`` returns ``axial(base_head(x))`` (for
a block trained with ``axial_input='features'``, ``axial(logits, f)`` with
``f`` the decoder features entering ``conv_seg``), i.e. exactly the teacher
logits seen in training when loaded with weights converted by
``tools/model_converters/convert_axial_ckpt_to_refine_head.py``.
It needs MMSeg only (no MMRazor import), and behaves as a normal decode
head: ``forward``/``loss``/``predict``, ``num_classes``, ``out_channels``,
``align_corners``, ``ignore_index``, ``threshold`` are those of the base
head.
"""
import copy
from typing import Dict, List, Tuple, Union

from mmengine.model import BaseModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from torch import Tensor, nn

from ..attention.axial_attention import AxialAttention2d

__all__ = ['AxialRefineHead']

#: Attributes that BaseDecodeHead's methods read; served by the base head.
_DELEGATED = ('num_classes', 'out_channels', 'align_corners', 'ignore_index',
              'threshold', 'sampler', 'loss_decode', 'in_channels',
              'in_index', 'input_transform', 'channels', 'dropout_ratio')


def _delegate(name: str) -> property:

    def getter(self):
        return getattr(self.base_head, name)

    getter.__doc__ = f'``base_head.{name}``.'
    return property(getter)


@MODELS.register_module()
class AxialRefineHead(BaseDecodeHead):
    """Wrap a decode head; refine its logits with :class:`AxialAttention2d`.

    Args:
        base_head: Config of any MMSeg ``BaseDecodeHead`` whose ``forward``
            ends in ``conv_seg`` (FCN, PSP, ASPP, DepthwiseSeparableASPP,
            FPN, UPer, ...).
        axial: ``AxialAttention2d`` arguments (``channels``, ``num_heads``,
            ``span``, ``qk_channels``, ``long_axis``, ``context_channels``);
            ``in_channels`` defaults to the base head's ``out_channels``.
            With ``context_channels`` (= ``conv_seg.in_channels``) the block
            also reads the features entering ``conv_seg``.
        init_cfg: MMEngine init config of the wrapper.

    Shapes:
        - forward input: the backbone/neck feature tuple of the base head.
        - forward output: ``(N, C, h, w)`` refined logits, ``C`` =
          ``out_channels`` of the base head, ``h, w`` its logit size.
    """

    def __init__(self,
                 base_head: Dict,
                 axial: Dict = None,
                 init_cfg: Union[Dict, List[Dict], None] = None) -> None:
        # BaseDecodeHead.__init__ would create a second classifier and loss;
        # those come from the base head instead (see _DELEGATED).
        BaseModule.__init__(self, init_cfg)
        if isinstance(base_head, nn.Module):
            head = base_head
        else:
            if not isinstance(base_head, dict) or 'type' not in base_head:
                raise TypeError(
                    'AxialRefineHead needs base_head=dict(type=..., ...), '
                    f'the config of an MMSeg decode head; got {base_head!r}')
            head = MODELS.build(copy.deepcopy(base_head))
        if not isinstance(head, BaseDecodeHead) or not isinstance(
                getattr(head, 'conv_seg', None), nn.Conv2d):
            raise TypeError(
                f'base_head {type(head).__name__} is not an MMSeg '
                'BaseDecodeHead with a conv_seg classifier; AxialRefineHead '
                'refines the logits of such heads (FCN, PSP, ASPP, FPN, UPer, '
                '...).')
        self.base_head = head
        axial = dict(axial or {})
        if axial.pop('type', 'AxialAttention2d') != 'AxialAttention2d':
            raise ValueError('axial must configure an AxialAttention2d.')
        num_logits = head.conv_seg.out_channels
        if axial.setdefault('in_channels', num_logits) != num_logits:
            raise ValueError(
                f'axial.in_channels={axial["in_channels"]} but the base head '
                f'outputs {num_logits} channels; drop axial.in_channels.')
        self.axial = AxialAttention2d(**axial)
        self._context = None
        context = self.axial.context_channels
        if context:
            if context != head.conv_seg.in_channels:
                raise ValueError(
                    f'axial.context_channels={context} but the base head\'s '
                    f'conv_seg reads {head.conv_seg.in_channels} channels; '
                    'export the block with the head it was trained on.')
            # the features entering conv_seg, kept for this forward's block
            head.conv_seg.register_forward_pre_hook(self._keep_context)

    def _keep_context(self, module: nn.Module, args: Tuple[Tensor]) -> None:
        self._context = args[0]

    def forward(self, inputs: Union[List[Tensor], Tuple[Tensor]]) -> Tensor:
        """Base-head logits refined by axial attention.

        Args:
            inputs: Multi-level features, as for the base head.

        Returns:
            Tensor: ``(N, C, h, w)`` refined logits.
        """
        logits = self.base_head(inputs)
        if not self.axial.context_channels:
            return self.axial(logits)
        context, self._context = self._context, None  # no tensor kept
        return self.axial(logits, context)

    def extra_repr(self) -> str:
        return f'base_head={type(self.base_head).__name__}'


for _name in _DELEGATED:
    setattr(AxialRefineHead, _name, _delegate(_name))
del _name
