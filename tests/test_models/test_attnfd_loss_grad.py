# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""AttnFDLoss computes its gradient with the value; both equal autograd's.

The reference below is the loss written plainly with autograd (the
formulation the package used before the gradient was computed in the
forward pass): values and gradients w.r.t. the student features must agree
within 1e-6 relative, for every normalisation.
"""
import pytest
import torch
from _attnfd_reference import assert_rel, reference_loss

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.losses import AttnFDLoss

MODES = ['channel', 'tensor', 'batch']
SHAPES = [((2, 16, 9, 11), (2, 16, 9, 11)), ((3, 8, 5, 7), (3, 8, 10, 14)),
          ((1, 3, 4, 4), (1, 3, 4, 4))]


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


@pytest.mark.parametrize('mode', MODES)
def test_float32_bits_equal_autograd(mode):
    # the gradient replays autograd's operations: not only close, equal
    s, t = _inputs((2, 8, 7, 9), (2, 8, 7, 9), torch.float32, 4)
    a = s.clone().requires_grad_()
    b = s.clone().requires_grad_()
    got = AttnFDLoss(normalize=mode, loss_weight=2.0)(a, t)
    want = reference_loss(b, t, mode, 2.0)
    got.backward()
    want.backward()
    assert torch.equal(got.detach(), want.detach())
    assert torch.equal(a.grad, b.grad)


@pytest.mark.parametrize('mode', MODES)
def test_weight_beyond_float32_gives_inf_like_autograd(mode):
    s, t = _inputs((2, 4, 6, 5), (2, 4, 6, 5), torch.float32, 5)
    a = s.clone().requires_grad_()
    got = AttnFDLoss(normalize=mode, loss_weight=1e39)(a, t)
    assert torch.isinf(got)
    got.backward()
    assert not torch.isfinite(a.grad).all()
