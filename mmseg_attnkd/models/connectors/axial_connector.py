# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial-attention connector: student logits -> self-distillation teacher.

Registry glue for :class:`~mmseg_attnkd.models.attention.AxialAttention2d`:
the block itself is a plain ``nn.Module`` (no registry import, so exported
MMSeg models can use it without MMRazor); it is registered in MMRazor's
``MODELS`` here so configs may also build it directly by type name.
"""
from typing import Dict, Optional

from mmrazor.models.architectures.connectors.base_connector import \
    BaseConnector
from mmrazor.registry import MODELS
from torch import Tensor

from ..attention.axial_attention import AxialAttention2d

MODELS.register_module(module=AxialAttention2d)

__all__ = ['AxialConnector']


@MODELS.register_module()
class AxialConnector(BaseConnector):
    """Refine segmentation logits with :class:`AxialAttention2d`.

    Used by axial self-distillation (see ``AxialSelfDistiller``): the decode
    head's logits (the "student output") go in, logits with global axial
    context (the "teacher output") come out. The block is residual with a
    zero-initialised output projection, so at initialisation the teacher
    output equals the student output exactly.

    Args:
        in_channels: Logit channels ``C`` (the head's ``out_channels``).
        detach_input: Stop gradients from the teacher losses at the student
            logits, so only the axial block learns from them. Default False:
            the teacher cross-entropy also trains the student end to end, as
            in the original self-distillation method.
        init_cfg: MMEngine init config (the block initialises itself).
        **axial_kwargs: Other :class:`AxialAttention2d` arguments
            (``channels``, ``num_heads``, ``span``, ``qk_channels``,
            ``long_axis``, ``zero_init``).

    Shapes:
        - input: ``(N, C, H, W)`` student logits.
        - output: ``(N, C, H, W)`` teacher logits.
    """

    def __init__(self,
                 in_channels: int,
                 detach_input: bool = False,
                 init_cfg: Optional[Dict] = None,
                 **axial_kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        self.detach_input = detach_input
        self.axial = AxialAttention2d(in_channels=in_channels, **axial_kwargs)

    def forward_train(self, feature: Tensor) -> Tensor:
        """Refine logits.

        Args:
            feature: ``(N, C, H, W)`` student logits.

        Returns:
            Tensor: ``(N, C, H, W)`` teacher logits.
        """
        if self.detach_input:
            feature = feature.detach()
        return self.axial(feature)
