# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""CBAM connectors for attention-guided feature distillation (AttnFD).

Reference:
    Mansourian, Jalali, Ahmadi, Kasaei. "Attention-guided Feature
    Distillation for Semantic Segmentation", arXiv 2403.05451.

* :class:`CBAMConnector` (student side): trainable CBAM, then an optional
  1x1 conv + BN mapping the student's channels to the teacher's.
* :class:`TeacherCBAMConnector` (teacher side): a CBAM that the
  distillation loss can never train - either frozen weights (random with a
  fixed seed, or loaded) or the parameter-free variant. It always runs
  under ``torch.no_grad()``.
"""
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmrazor.models.architectures.connectors.base_connector import \
    BaseConnector
from mmrazor.registry import MODELS
from torch import Tensor

from ..attention.cbam import CBAM

TEACHER_ATTENTION_MODES = ('frozen', 'parameter_free')

# The plain attention block, buildable by ``type='CBAM'`` in MMRazor's scope;
# registered here so that ``models/attention`` needs no registry.
MODELS.register_module(module=CBAM)


@MODELS.register_module()
class CBAMConnector(BaseConnector):
    """Student-side AttnFD connector: CBAM refine, then channel alignment.

    Args:
        in_channels: Student feature channels ``C_s``.
        out_channels: Teacher feature channels ``C_t``. None means
            ``C_s``.
        align: Append a 1x1 conv (no bias) + norm layer mapping ``C_s`` to
            ``C_t`` after the CBAM (as the public AttnFD code does, also
            when ``C_s == C_t``). With ``align=False`` the channels must be
            equal. Defaults to True.
        reduction: CBAM MLP reduction ratio. Defaults to 16.
        kernel_size: CBAM spatial kernel size. Defaults to 7.
        min_hidden: CBAM minimum MLP hidden width. Defaults to 8.
        norm_cfg: Norm layer of the alignment. Defaults to ``dict(type='BN')``.
        spatial_norm: BatchNorm after the CBAM spatial convolution.
            Defaults to False.
        init_cfg: MMEngine init config. Defaults to None.

    Shapes:
        - input: ``[B, C_s, H, W]``
        - output: ``[B, C_t, H, W]``
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: Optional[int] = None,
                 align: bool = True,
                 reduction: int = 16,
                 kernel_size: int = 7,
                 min_hidden: int = 8,
                 norm_cfg: Optional[Dict] = None,
                 spatial_norm: bool = False,
                 init_cfg: Optional[Dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        out_channels = in_channels if out_channels is None else out_channels
        if not align and out_channels != in_channels:
            raise ValueError(
                f'CBAMConnector: student features have {in_channels} '
                f'channels but the teacher features have {out_channels}; '
                'with align=False they must be equal. Set align=True to add '
                'a 1x1 conv + BN mapping student to teacher channels.')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.cbam = CBAM(
            in_channels,
            reduction=reduction,
            kernel_size=kernel_size,
            parameter_free=False,
            min_hidden=min_hidden,
            spatial_norm=spatial_norm)
        if align:
            norm_cfg = dict(type='BN') if norm_cfg is None else norm_cfg
            self.align = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, bias=False),
                build_norm_layer(norm_cfg, out_channels)[1])
            nn.init.kaiming_normal_(
                self.align[0].weight, mode='fan_out', nonlinearity='relu')
        else:
            self.align = None

    def forward_train(self, feature: Tensor) -> Tensor:
        """Refine ``[B, C_s, H, W]`` and map it to ``[B, C_t, H, W]``."""
        refined = self.cbam(feature)
        if self.align is not None:
            refined = self.align(refined)
        return refined


@MODELS.register_module()
class TeacherCBAMConnector(BaseConnector):
    """Teacher-side AttnFD connector: CBAM that is never trained.

    All parameters have ``requires_grad=False`` and the forward runs under
    ``torch.no_grad()``, so the distillation loss cannot move the teacher's
    attention (if both sides learned, the refined maps could collapse
    towards zero and the loss with them).

    Args:
        channels: Teacher feature channels ``C``.
        mode: ``'frozen'`` - a CBAM with fixed weights: randomly initialised
            from ``seed`` (without touching the global RNG) and optionally
            overwritten later with ``load_state_dict`` (the paper uses a
            pretrained, frozen CBAM); ``'parameter_free'`` - identity MLP and
            summed pooled maps, no parameters (public AttnFD code).
            Defaults to ``'frozen'``.
        reduction: CBAM MLP reduction ratio. Defaults to 16.
        kernel_size: CBAM spatial kernel size. Defaults to 7.
        min_hidden: CBAM minimum MLP hidden width. Defaults to 8.
        seed: Seed of the random initialisation in ``'frozen'`` mode.
            Defaults to 0.
        spatial_norm: BatchNorm after the CBAM spatial convolution (its
            running statistics are fixed like every other weight).
            Defaults to False.
        init_cfg: Must be None: the weights are fixed at construction.

    Shapes:
        - input: ``[B, C, H, W]``
        - output: ``[B, C, H, W]`` (no autograd graph)
    """

    def __init__(self,
                 channels: int,
                 mode: str = 'frozen',
                 reduction: int = 16,
                 kernel_size: int = 7,
                 min_hidden: int = 8,
                 seed: int = 0,
                 spatial_norm: bool = False,
                 init_cfg: Optional[Dict] = None) -> None:
        if mode not in TEACHER_ATTENTION_MODES:
            raise ValueError(
                f'TeacherCBAMConnector: mode must be one of '
                f'{TEACHER_ATTENTION_MODES}, got {mode!r}.')
        if init_cfg is not None:
            raise ValueError(
                'TeacherCBAMConnector: init_cfg is not supported; its '
                'weights come from `seed` or from a loaded state dict.')
        super().__init__(init_cfg=None)
        self.mode = mode
        self.seed = int(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.cbam = CBAM(
                channels,
                reduction=reduction,
                kernel_size=kernel_size,
                parameter_free=(mode == 'parameter_free'),
                min_hidden=min_hidden,
                spatial_norm=spatial_norm)
        for param in self.cbam.parameters():
            param.requires_grad_(False)
        self.cbam.eval()

    def init_weights(self) -> None:
        """Keep the seeded or loaded weights (nothing to initialise)."""

    def train(self, mode: bool = True) -> 'TeacherCBAMConnector':
        """The attention stays in eval mode."""
        super().train(mode)
        self.cbam.eval()
        return self

    def forward_train(self, feature: Tensor) -> Tensor:
        """Refine teacher features ``[B, C, H, W]`` without gradients."""
        with torch.no_grad():
            return self.cbam(feature.detach())
