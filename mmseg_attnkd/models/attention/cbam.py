# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Convolutional Block Attention Module.

Reference:
    Woo, Park, Lee, Kweon. "CBAM: Convolutional Block Attention Module",
    ECCV 2018. https://arxiv.org/abs/1807.06521

The module is a plain :class:`torch.nn.Module` (usable without any
registry); :mod:`mmseg_attnkd.models.connectors` registers it in MMRazor's
``MODELS`` so that configs can build it by ``type='CBAM'``.
"""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from torch import Tensor


class CBAM(nn.Module):
    """Channel attention followed by spatial attention (CBAM).

    Channel attention: the input is average- and max-pooled over ``H x W``;
    both ``[B, C, 1, 1]`` descriptors go through one shared two-layer MLP
    (``C -> hidden -> C``, ReLU in between, written as 1x1 convolutions),
    the two results are summed and squashed by a sigmoid. Spatial attention
    is computed on the channel-refined map: its channel-wise mean and max
    (``[B, 2, H, W]``) pass through a ``kernel_size`` x ``kernel_size``
    convolution to one channel and a sigmoid. The output is
    ``x * channel_att * spatial_att``.

    With ``parameter_free=True`` the module has no parameters: the MLP is the
    identity (``sigmoid(avg + max)``) and the convolution is replaced by the
    sum of the mean and max maps (``sigmoid(mean + max)``). This is the
    teacher-side attention of the public AttnFD code.

    With ``spatial_norm=True`` the spatial convolution has no bias and is
    followed by a one-channel BatchNorm, as in the original CBAM and the
    public AttnFD code (``conv -> BN -> sigmoid``).

    Args:
        channels: Number of input channels ``C``.
        reduction: MLP reduction ratio ``r``. Defaults to 16.
        kernel_size: Odd size of the spatial-attention convolution.
            Defaults to 7.
        parameter_free: Build the parameter-free variant. Defaults to False.
        min_hidden: Lower bound of the MLP hidden width, so that tiny
            channel counts keep a usable bottleneck:
            ``hidden = max(C // r, min(min_hidden, C))``. Defaults to 8.
        spatial_norm: BatchNorm after the spatial convolution (ignored when
            ``parameter_free``). Defaults to False.

    Shapes:
        - input: ``[B, C, H, W]``
        - output: ``[B, C, H, W]``

    Attributes:
        last_channel_att (Tensor | None): Detached ``[B, C, 1, 1]`` channel
            attention of the latest call (for visualisation).
        last_spatial_att (Tensor | None): Detached ``[B, 1, H, W]`` spatial
            attention of the latest call.
    """

    def __init__(self,
                 channels: int,
                 reduction: int = 16,
                 kernel_size: int = 7,
                 parameter_free: bool = False,
                 min_hidden: int = 8,
                 spatial_norm: bool = False) -> None:
        super().__init__()
        if not isinstance(channels, int) or channels < 1:
            raise ValueError(
                f'CBAM: channels must be a positive int, got {channels!r}.')
        if not isinstance(reduction, int) or reduction < 1:
            raise ValueError(
                f'CBAM: reduction must be an int >= 1, got {reduction!r} '
                '(16 in the CBAM paper).')
        if (not isinstance(kernel_size, int) or kernel_size < 1
                or kernel_size % 2 == 0):
            raise ValueError(
                f'CBAM: kernel_size must be a positive odd int so the '
                f'spatial map keeps its size, got {kernel_size!r} (7 in the '
                'CBAM paper).')
        if not isinstance(min_hidden, int) or min_hidden < 1:
            raise ValueError(
                f'CBAM: min_hidden must be an int >= 1, got {min_hidden!r}.')
        self.channels = channels
        self.reduction = reduction
        self.kernel_size = kernel_size
        self.parameter_free = bool(parameter_free)
        self.min_hidden = min_hidden
        self.spatial_norm_enabled = bool(spatial_norm) and not parameter_free
        self.hidden_channels = max(channels // reduction,
                                   min(min_hidden, channels))
        if self.parameter_free:
            self.channel_mlp: Optional[nn.Module] = None
            self.spatial_conv: Optional[nn.Module] = None
            self.spatial_norm: Optional[nn.Module] = None
        else:
            self.channel_mlp = nn.Sequential(
                nn.Conv2d(channels, self.hidden_channels, 1),
                nn.ReLU(inplace=True),
                nn.Conv2d(self.hidden_channels, channels, 1))
            self.spatial_conv = nn.Conv2d(
                2,
                1,
                kernel_size,
                padding=kernel_size // 2,
                bias=not self.spatial_norm_enabled)
            # a separate attribute keeps the state-dict keys of the plain
            # variant (spatial_conv.weight/bias) unchanged
            self.spatial_norm = nn.BatchNorm2d(1) \
                if self.spatial_norm_enabled else None
        self.last_channel_att: Optional[Tensor] = None
        self.last_spatial_att: Optional[Tensor] = None

    def _check_input(self, x: Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != self.channels:
            raise ValueError(
                f'CBAM({self.channels}) expects a [B, {self.channels}, H, W] '
                f'tensor, got shape {tuple(x.shape)}. Build CBAM with the '
                'channel count of the feature it refines.')

    def channel_attention(self, x: Tensor) -> Tensor:
        """Channel attention weights.

        Args:
            x: Features ``[B, C, H, W]``.

        Returns:
            Tensor: Weights in ``(0, 1)``, shape ``[B, C, 1, 1]``.
        """
        avg = x.mean(dim=(2, 3), keepdim=True)
        mx = x.amax(dim=(2, 3), keepdim=True)
        if self.channel_mlp is not None:
            avg, mx = self.channel_mlp(avg), self.channel_mlp(mx)
        return torch.sigmoid(avg + mx)

    def spatial_attention(self, x: Tensor) -> Tensor:
        """Spatial attention weights.

        Args:
            x: (Channel-refined) features ``[B, C, H, W]``.

        Returns:
            Tensor: Weights in ``(0, 1)``, shape ``[B, 1, H, W]``.
        """
        mean_map = x.mean(dim=1, keepdim=True)
        max_map = x.amax(dim=1, keepdim=True)
        if self.spatial_conv is None:
            logits = mean_map + max_map
        else:
            logits = self.spatial_conv(torch.cat([mean_map, max_map], dim=1))
            if self.spatial_norm is not None:
                logits = self.spatial_norm(logits)
        return torch.sigmoid(logits)

    def _refine(self, x: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        """``x * channel_att`` and both maps; the product is made once."""
        self._check_input(x)
        channel_att = self.channel_attention(x)
        refined = x * channel_att
        spatial_att = self.spatial_attention(refined)
        self.last_channel_att = channel_att.detach()
        self.last_spatial_att = spatial_att.detach()
        return refined, channel_att, spatial_att

    def attention_maps(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """Both attention maps of CBAM for ``x``.

        The spatial map is computed on ``x * channel_att``, exactly as in the
        forward pass, so ``forward(x) == x * channel_att * spatial_att``.

        Args:
            x: Features ``[B, C, H, W]``.

        Returns:
            tuple[Tensor, Tensor]: ``channel_att`` ``[B, C, 1, 1]`` and
            ``spatial_att`` ``[B, 1, H, W]``, both in ``(0, 1)``.
        """
        _, channel_att, spatial_att = self._refine(x)
        return channel_att, spatial_att

    def forward(self, x: Tensor) -> Tensor:
        """Refine ``x`` ``[B, C, H, W]``; returns ``[B, C, H, W]``.

        ``(x * channel_att) * spatial_att``. Without autograd the
        channel-refined map of the spatial attention is reused and scaled
        in place (no second and third full-size tensor); with autograd the
        product is formed again, so that gradients accumulate exactly as
        in the two-branch graph of the reference formulation.
        """
        refined, channel_att, spatial_att = self._refine(x)
        if torch.is_grad_enabled() and (refined.requires_grad
                                        or spatial_att.requires_grad):
            return x * channel_att * spatial_att
        return refined.mul_(spatial_att)

    def extra_repr(self) -> str:
        return (f'channels={self.channels}, hidden={self.hidden_channels}, '
                f'kernel_size={self.kernel_size}, '
                f'parameter_free={self.parameter_free}, '
                f'spatial_norm={self.spatial_norm_enabled}')
