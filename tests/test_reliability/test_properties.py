# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Property tests: attention blocks and losses over random shapes.

Batch 1-3, spatial sizes from 1x1 to odd sizes beyond the attention span,
1 to many classes/channels, random scales of the inputs: no crash, output
shapes kept, finite outputs and gradients, losses >= 0.
"""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models import (CBAM, AttnFDLoss, AxialAttention2d,
                                 DecodeHeadLoss, SelfDistillMSELoss)

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)

batch = st.integers(1, 3)
side = st.integers(1, 11)  # includes 1x1 and odd sizes
scale = st.sampled_from([1e-3, 1.0, 1e3])


def _randn(seed, *shape, s=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g) * s


@SETTINGS
@given(n=batch, c=st.integers(1, 40), h=side, w=side,
       reduction=st.sampled_from([1, 4, 16]),
       kernel=st.sampled_from([1, 3, 7]), free=st.booleans(), s=scale,
       seed=st.integers(0, 2**16))
def test_cbam_shapes_finite_and_gated(n, c, h, w, reduction, kernel, free, s,
                                      seed):
    torch.manual_seed(seed)
    cbam = CBAM(c, reduction=reduction, kernel_size=kernel,
                parameter_free=free)
    x = _randn(seed, n, c, h, w, s=s).requires_grad_()
    y = cbam(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    # attention weights are in (0, 1): |y| <= |x| element-wise
    assert (y.abs() <= x.abs() + 1e-6 * s).all()
    y.square().mean().backward()
    assert torch.isfinite(x.grad).all()


@SETTINGS
@given(n=batch, classes=st.integers(1, 24), h=side, w=side,
       heads=st.sampled_from([1, 2, 4]), per_head=st.sampled_from([2, 4]),
       span=st.integers(1, 6),
       long_axis=st.sampled_from(['interpolate', 'window']),
       stride=st.sampled_from([1, 2, 3]), s=scale,
       seed=st.integers(0, 2**16))
def test_axial_attention_shapes_and_finite(n, classes, h, w, heads, per_head,
                                           span, long_axis, stride, s, seed):
    torch.manual_seed(seed)
    block = AxialAttention2d(classes, channels=heads * per_head,
                             num_heads=heads, span=span, long_axis=long_axis,
                             stride=stride, zero_init=False)
    x = _randn(seed, n, classes, h, w, s=s).requires_grad_()
    y = block(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    y.square().mean().backward()
    assert torch.isfinite(x.grad).all()
    grads = [p.grad for p in block.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@SETTINGS
@given(n=batch, c=st.integers(1, 64), hs=side, ws=side, ht=side, wt=side,
       normalize=st.sampled_from(['channel', 'tensor']), s=scale,
       zero_student=st.booleans(), weight=st.sampled_from([0.0, 0.5, 2.0]),
       seed=st.integers(0, 2**16))
def test_attnfd_loss_nonnegative_finite(n, c, hs, ws, ht, wt, normalize, s,
                                        zero_student, weight, seed):
    loss_fn = AttnFDLoss(normalize=normalize, loss_weight=weight)
    preds_s = _randn(seed, n, c, hs, ws, s=s)
    if zero_student:  # all-zero maps (dead features) must not give NaN
        preds_s = torch.zeros_like(preds_s)
    preds_s.requires_grad_()
    preds_t = _randn(seed + 1, n, c, ht, wt, s=s)
    loss = loss_fn(preds_s, preds_t)
    assert loss.dim() == 0 and torch.isfinite(loss) and loss >= 0
    loss.backward()
    assert torch.isfinite(preds_s.grad).all()
    # identical inputs give zero; positive rescaling changes nothing
    same = loss_fn(preds_t, preds_t)
    assert float(same) == pytest.approx(0.0, abs=1e-5)
    if not zero_student:
        scaled = loss_fn(preds_s.detach() * 7.0, preds_t * 0.5)
        assert float(scaled) == pytest.approx(float(loss), rel=1e-3,
                                              abs=1e-5)


@SETTINGS
@given(n=batch, c=st.integers(1, 40), h=side, w=side,
       target=st.sampled_from(['prob', 'logits']), s=scale,
       seed=st.integers(0, 2**16))
def test_self_distill_mse_nonnegative_finite(n, c, h, w, target, s, seed):
    loss_fn = SelfDistillMSELoss(loss_weight=1.0, target=target)
    preds_s = _randn(seed, n, c, h, w, s=s).requires_grad_()
    preds_t = _randn(seed + 1, n, c, h, w, s=s)
    loss = loss_fn(preds_s, preds_t)
    assert torch.isfinite(loss) and loss >= 0
    if target == 'prob':
        assert loss <= 1.0  # probabilities differ by at most 1
    loss.backward()
    assert torch.isfinite(preds_s.grad).all()


def _head(num_classes: int):
    from mmseg.registry import MODELS
    return MODELS.build(dict(
        type='FCNHead', in_channels=4, channels=4, num_convs=1,
        num_classes=num_classes, out_channels=num_classes,
        threshold=0.5 if num_classes == 1 else None,
        loss_decode=dict(type='CrossEntropyLoss',
                         use_sigmoid=num_classes == 1, loss_weight=1.0)))


_HEADS = {}


@SETTINGS
@given(n=batch, c=st.sampled_from([1, 2, 5, 19, 40]), h=side, w=side,
       up=st.sampled_from([1, 2, 4]), ignore_frac=st.sampled_from(
           [0.0, 0.5, 1.0]), s=scale, seed=st.integers(0, 2**16))
def test_teacher_ce_nonnegative_finite(n, c, h, w, up, ignore_frac, s, seed):
    head = _HEADS.setdefault(c, _head(c))
    loss_fn = DecodeHeadLoss(loss_weight=1.0)
    loss_fn.bind_head(head)
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, max(c, 2) if c == 1 else c,
                           (n, h * up, w * up), generator=g)
    ignore = torch.rand(labels.shape, generator=g) < ignore_frac
    labels[ignore] = 255
    if c == 1:
        # MMSeg 1.2.2's binary cross-entropy calls .max() on the non-ignored
        # labels and crashes when every pixel is ignored (an upstream
        # limitation of sigmoid heads, also for the plain task loss)
        labels.view(-1)[0] = 0
    logits = _randn(seed, n, c, h, w, s=s).requires_grad_()
    loss = loss_fn(logits, labels)
    assert torch.isfinite(loss) and loss >= 0
    loss.backward()
    assert torch.isfinite(logits.grad).all()
