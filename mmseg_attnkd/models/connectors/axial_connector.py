# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial-attention connector: student logits -> self-distillation teacher.

Registry glue for :class:`~mmseg_attnkd.models.attention.AxialAttention2d`:
the block itself is a plain ``nn.Module`` (no registry import, so exported
MMSeg models can use it without MMRazor); it is registered in MMRazor's
``MODELS`` here so configs may also build it directly by type name.
"""
import logging
from typing import Dict, Optional, Tuple, Union

import torch
from mmengine.logging import print_log
from mmrazor.models.architectures.connectors.base_connector import \
    BaseConnector
from mmrazor.registry import MODELS
from torch import Tensor

from ..attention.axial_attention import AxialAttention2d
from ..attention.axial_memory import (axial_train_bytes,
                                      smallest_fitting_stride)
from .device_memory import default_memory_budget

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
        memory_budget_gb: Most GiB the block may need in one training step
            (forward + backward, estimated by
            :func:`~..attention.axial_memory.axial_train_bytes`
            from the logits' shape at the first training forward, before
            any attention is computed). None (default): a quarter of the
            device's memory (GPU memory, or the RAM this process may use).
            Over budget, a ``stride`` left unset becomes the smallest that
            fits (logged once); a ``stride`` set in the config is refused
            with the estimate and the options to change.
        init_cfg: MMEngine init config (the block initialises itself).
        **axial_kwargs: Other :class:`AxialAttention2d` arguments
            (``channels``, ``num_heads``, ``span``, ``qk_channels``,
            ``long_axis``, ``zero_init``, ``context_channels``).

    Shapes:
        - input: ``(N, C, H, W)`` student logits, or ``((N, Cx, H, W),
          (N, C, H, W))`` decoder features and logits with
          ``context_channels=Cx``.
        - output: ``(N, C, H, W)`` teacher logits.
    """

    def __init__(self,
                 in_channels: int,
                 detach_input: bool = False,
                 memory_budget_gb: Optional[float] = None,
                 init_cfg: Optional[Dict] = None,
                 **axial_kwargs) -> None:
        super().__init__(init_cfg=init_cfg)
        if memory_budget_gb is not None and not (
                isinstance(memory_budget_gb, (int, float))
                and memory_budget_gb > 0):
            raise ValueError(
                'axial.memory_budget_gb must be a positive number of GiB or '
                f'None (a quarter of the device memory), got '
                f'{memory_budget_gb!r}.')
        self.detach_input = detach_input
        self.memory_budget_gb = memory_budget_gb
        self.auto_stride = 'stride' not in axial_kwargs
        self._fitted_shape = None
        self.axial = AxialAttention2d(in_channels=in_channels, **axial_kwargs)

    def forward_train(
            self, feature: Union[Tensor, Tuple[Tensor, Tensor]]) -> Tensor:
        """Refine logits.

        Args:
            feature: ``(N, C, H, W)`` student logits, or for a block with
                ``context_channels`` the pair ``(context, logits)``: the
                ``(N, Cx, H, W)`` decoder features and the logits computed
                from them (the input and output of the head's ``conv_seg``).

        Returns:
            Tensor: ``(N, C, H, W)`` teacher logits.
        """
        context = None
        if isinstance(feature, (tuple, list)):
            context, feature = feature
        if self.training and torch.is_grad_enabled():
            self.fit_memory(feature)
        if self.detach_input:
            feature = feature.detach()
            context = None if context is None else context.detach()
        if context is None:  # keeps logit-only blocks' call unchanged
            return self.axial(feature)
        return self.axial(feature, context)

    def fit_memory(self, feature: Tensor) -> None:
        """Check the block's training memory for ``(N, C, H, W)`` logits.

        Runs once per new logits shape. Within the budget nothing changes;
        over it an unset ``stride`` becomes the smallest that fits (logged
        once), a configured one is refused.

        Raises:
            ValueError: A configured ``stride`` does not fit, or no stride
                does; one line with the estimate, the budget and the option
                to set.
        """
        shape = tuple(feature.shape)
        if shape == self._fitted_shape:
            return
        gib = 1024.0**3
        budget = (self.memory_budget_gb * gib if self.memory_budget_gb
                  else default_memory_budget(feature.device))
        axial, size = self.axial, feature.element_size()
        heads = axial.attn_h.num_heads

        def need(stride: int) -> float:
            return axial_train_bytes(shape, axial.channels, heads, stride,
                                     size)

        if need(axial.stride) > budget:
            fits = smallest_fitting_stride(shape, axial.channels, heads,
                                           budget, size)
            what = (f'the axial block on {shape} logits needs about '
                    f'{need(axial.stride) / gib:.3g} GiB at stride='
                    f'{axial.stride}, over the {budget / gib:.3g} GiB '
                    'budget (distiller.axial.memory_budget_gb)')
            if fits is None:
                raise ValueError(
                    f'AxialConnector: {what}, and no stride fits; lower the '
                    'batch size or the crop, or raise distiller.axial.'
                    'memory_budget_gb.')
            if not self.auto_stride:
                raise ValueError(
                    f'AxialConnector: {what}; set distiller.axial.stride='
                    f'{fits} (about {need(fits) / gib:.3g} GiB) or raise '
                    'distiller.axial.memory_budget_gb.')
            print_log(
                f'AxialConnector: {what}; training it at stride={fits} '
                f'(about {need(fits) / gib:.3g} GiB). Write distiller.axial.'
                f'stride={fits} in the config to keep it (the exported '
                'AxialRefineHead reads the config).', logger='current',
                level=logging.WARNING)
            axial.stride = fits
        self._fitted_shape = shape
