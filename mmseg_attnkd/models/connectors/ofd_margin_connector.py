# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""OFD teacher connector whose margin comes from the recorded BN layer.

Reference:
    Heo, Kim, Yun, Park, Kwak, Choi. "A Comprehensive Overhaul of Feature
    Distillation", ICCV 2019.
"""
import torch
from mmrazor.models.architectures.connectors import OFDTeacherConnector
from mmrazor.registry import MODELS
from torch import nn

__all__ = ['OFDMarginConnector', 'bn_margin']


def bn_margin(bn: nn.modules.batchnorm._BatchNorm) -> torch.Tensor:
    """OFD's margin ``E[x | x < 0]`` per channel of a BN layer's output.

    The output of channel ``c`` is taken as ``N(beta_c, gamma_c^2)``; the
    margin is the mean of its negative part, ``m - s * phi(m/s) / Phi(-m/s)``
    with ``m = beta_c``, ``s = |gamma_c|``, or ``-3 s`` where
    ``Phi(-m/s) <= 0.001`` (the paper's rule).

    Args:
        bn: The teacher BatchNorm (or SyncBatchNorm) that outputs the
            distilled pre-ReLU feature.

    Returns:
        Tensor: ``[1, C, 1, 1]`` margins.
    """
    std = bn.weight.detach().abs().double().clamp_min(1e-12)
    mean = bn.bias.detach().double()
    normal = torch.distributions.Normal(0., 1.)
    z = mean / std
    tail = normal.cdf(-z)
    density = torch.exp(-z**2 / 2) / (2 * torch.pi)**0.5
    margin = torch.where(tail > 0.001,
                         mean - std * density / tail.clamp_min(1e-12),
                         -3 * std)
    return margin.float().view(1, -1, 1, 1)


@MODELS.register_module()
class OFDMarginConnector(OFDTeacherConnector):
    """MMRazor's ``OFDTeacherConnector`` that sets its own margin.

    ``max(teacher_feature, margin)`` as in OFD; the margin is computed from
    the teacher BN layer whose output the stage records, when the stage
    distiller calls :meth:`prepare_from_source` at build time (MMRazor's
    ``OFDDistiller`` does the same from inside its algorithm).

    Shapes:
        - input: ``[B, C, H, W]`` pre-ReLU teacher feature (a BN output).
        - output: ``[B, C, H, W]``, detached.
    """

    def prepare_from_source(self, module: nn.Module) -> None:
        """Set the margin from the recorded BN layer.

        Raises:
            TypeError: The recorded module is not a BatchNorm layer.
        """
        if not isinstance(module, nn.modules.batchnorm._BatchNorm) or \
                module.weight is None:
            raise TypeError(
                'OFDMarginConnector: OFD records the output of an affine '
                f'BatchNorm (a pre-ReLU feature), got {type(module).__name__}'
                "; pick stages such as 'decode_head.bottleneck.bn'.")
        self.init_margin(bn_margin(module))
