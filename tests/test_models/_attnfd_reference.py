# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The AttnFD loss written plainly with autograd: the test oracle.

This is the formulation the package used before the loss computed its
gradient in the forward pass (``F.normalize``, squared distance, mean).
"""
import torch.nn.functional as F


def reference_loss(s, t, normalize, loss_weight, eps=1e-12):
    """AttnFD loss with autograd: resize, F.normalize, squared distance."""
    t = t.detach().to(s.dtype)
    if s.shape[2:] != t.shape[2:]:
        s = F.interpolate(s, size=t.shape[2:], mode='bilinear',
                          align_corners=False)
    if normalize in ('channel', 'tensor'):
        dims = 2 if normalize == 'channel' else 1
        u = F.normalize(s.flatten(dims), p=2, dim=-1, eps=eps)
        v = F.normalize(t.flatten(dims), p=2, dim=-1, eps=eps)
        loss = (u - v).pow(2).sum(dim=-1).mean()
    else:
        u = s / s.norm(p=2).clamp_min(eps)
        v = t / t.norm(p=2).clamp_min(eps)
        loss = (u - v).pow(2).sum() / s.shape[0]
    return loss_weight * loss


def assert_rel(actual, expected, rtol=1e-6):
    """``|a - e| <= rtol * max|e|`` elementwise (relative to the tensor)."""
    scale = expected.abs().max().clamp_min(1e-30)
    err = (actual - expected).abs().max()
    assert err <= rtol * scale, f'max error {err} > {rtol} * {scale}'
