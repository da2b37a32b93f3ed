# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""AttnFDLoss computes its gradient with the value; both equal autograd's.

The reference below is the loss written plainly with autograd (the
formulation the package used before the gradient was computed in the
forward pass): values and gradients w.r.t. the student features must agree
within 1e-6 relative, for every normalisation.
"""
import pytest
import torch
import torch.nn.functional as F

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.losses import AttnFDLoss

MODES = ['channel', 'tensor', 'batch']
SHAPES = [((2, 16, 9, 11), (2, 16, 9, 11)), ((3, 8, 5, 7), (3, 8, 10, 14)),
          ((1, 3, 4, 4), (1, 3, 4, 4))]


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


def _inputs(shape, t_shape, dtype, seed=0, zero_row=False):
    g = torch.Generator().manual_seed(seed)
    s = torch.randn(*shape, generator=g, dtype=dtype) * 3 + 0.5
    t = torch.randn(*t_shape, generator=g, dtype=dtype)
    if zero_row:
        s[0, 1] = 0.0  # an all-zero channel map: the clamped norm
    return s, t


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('shapes', SHAPES)
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_value_and_gradient_match_autograd_reference(mode, shapes, dtype):
    s, t = _inputs(*shapes, dtype)
    a = s.clone().requires_grad_()
    b = s.clone().requires_grad_()
    got = AttnFDLoss(normalize=mode, loss_weight=2.5)(a, t)
    want = reference_loss(b, t, mode, 2.5)
    assert_rel(got.detach(), want.detach())
    got.backward()
    want.backward()
    assert_rel(a.grad, b.grad)


@pytest.mark.parametrize('mode', MODES)
def test_zero_map_and_upstream_scale(mode):
    s, t = _inputs((2, 4, 6, 5), (2, 4, 6, 5), torch.float64, 1, True)
    a = s.clone().requires_grad_()
    b = s.clone().requires_grad_()
    (AttnFDLoss(normalize=mode)(a, t) * -3.0).backward()
    (reference_loss(b, t, mode, 1.0) * -3.0).backward()
    assert_rel(a.grad, b.grad)
    assert torch.isfinite(a.grad).all()


@pytest.mark.parametrize('mode', MODES)
def test_without_grad_and_with_retained_graph(mode):
    s, t = _inputs((2, 4, 6, 5), (2, 4, 6, 5), torch.float32, 2)
    loss = AttnFDLoss(normalize=mode)
    with torch.no_grad():
        value = loss(s, t)
    assert not value.requires_grad
    a = s.clone().requires_grad_()
    out = loss(a, t)
    assert_rel(out.detach(), value)
    out.backward(retain_graph=True)
    first = a.grad.clone()
    out.backward()
    assert_rel(a.grad, 2 * first)


def test_teacher_gets_no_gradient():
    s, t = _inputs((2, 4, 6, 5), (2, 4, 6, 5), torch.float32, 3)
    t.requires_grad_()
    a = s.clone().requires_grad_()
    AttnFDLoss()(a, t).backward()
    assert t.grad is None and a.grad is not None
