# Copyright (c) mmseg-attnkd contributors. All rights reserved.
import pytest
import torch

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.losses import AttnFDLoss

MODES = ['channel', 'tensor', 'batch']


def _pair(seed=0, shape=(2, 4, 5, 6)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g), torch.randn(*shape, generator=g)


@pytest.mark.parametrize('mode', MODES)
def test_zero_for_identical_positive_otherwise(mode):
    s, t = _pair()
    loss = AttnFDLoss(normalize=mode)
    assert loss(t.clone(), t).item() == pytest.approx(0.0, abs=1e-6)
    assert loss(s, t).item() > 1e-3


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('scale', [1e-3, 3.7, 250.0])
def test_invariant_to_feature_scale(mode, scale):
    s, t = _pair(1)
    loss = AttnFDLoss(normalize=mode)
    ref = loss(s, t)
    torch.testing.assert_close(loss(s * scale, t), ref, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(loss(s, t * scale), ref, rtol=1e-4, atol=1e-6)


def test_channel_mode_matches_per_channel_definition():
    s, t = _pair(2, (2, 3, 4, 4))
    expected = 0.0
    for b in range(2):
        for c in range(3):
            u = s[b, c] / torch.linalg.norm(s[b, c])
            v = t[b, c] / torch.linalg.norm(t[b, c])
            expected += float(((u - v)**2).sum())
    expected /= 2 * 3
    got = AttnFDLoss(normalize='channel', loss_weight=1.0)(s, t)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_tensor_mode_normalises_each_sample():
    s, t = _pair(6, (3, 2, 4, 5))
    expected = 0.0
    for b in range(3):
        u = s[b] / torch.linalg.norm(s[b].flatten())
        v = t[b] / torch.linalg.norm(t[b].flatten())
        expected += float(((u - v)**2).sum())
    got = AttnFDLoss(normalize='tensor')(s, t)
    assert got.item() == pytest.approx(expected / 3, rel=1e-5)


@pytest.mark.parametrize('mode', ['channel', 'tensor'])
def test_scale_does_not_depend_on_the_batch_size(mode):
    # a batch of B copies of one pair has the loss of that pair
    s, t = _pair(7, (1, 3, 5, 5))
    loss = AttnFDLoss(normalize=mode)
    one = loss(s, t)
    for batch in (2, 8):
        torch.testing.assert_close(
            loss(s.repeat(batch, 1, 1, 1), t.repeat(batch, 1, 1, 1)), one)
    # the public code's whole-batch normalisation shrinks with B
    public = AttnFDLoss(normalize='batch')
    assert public(s.repeat(8, 1, 1, 1), t.repeat(8, 1, 1, 1)).item() == \
        pytest.approx(public(s, t).item() / 8, rel=1e-4)


def test_batch_mode_matches_public_code_definition():
    s, t = _pair(3, (3, 2, 4, 5))
    u = s / torch.linalg.norm(s.flatten())
    v = t / torch.linalg.norm(t.flatten())
    expected = float(((u - v)**2).sum()) / 3
    got = AttnFDLoss(normalize='batch')(s, t)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    # the two normalisations are really different
    assert AttnFDLoss(normalize='channel')(s, t).item() != pytest.approx(
        expected, rel=1e-3)


@pytest.mark.parametrize('mode', MODES)
def test_loss_weight_scales_linearly(mode):
    s, t = _pair(4)
    one = AttnFDLoss(normalize=mode, loss_weight=1.0)(s, t)
    two = AttnFDLoss(normalize=mode, loss_weight=2.0)(s, t)
    torch.testing.assert_close(two, 2 * one)


@pytest.mark.parametrize('mode', MODES)
def test_student_is_resized_to_teacher_and_only_student_gets_grad(mode):
    g = torch.Generator().manual_seed(5)
    s = torch.randn(2, 4, 4, 4, generator=g, requires_grad=True)
    t = torch.randn(2, 4, 8, 8, generator=g, requires_grad=True)
    loss = AttnFDLoss(normalize=mode)(s, t)
    loss.backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None
    # an upsampled copy of the teacher map itself gives zero loss
    t_small = torch.nn.functional.avg_pool2d(t.detach(), 2)
    up = torch.nn.functional.interpolate(
        t_small, size=(8, 8), mode='bilinear', align_corners=False)
    assert AttnFDLoss(normalize=mode)(t_small, up).item() == pytest.approx(
        0.0, abs=1e-6)


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match='normalize'):
        AttnFDLoss(normalize='spatial')
    with pytest.raises(ValueError, match='loss_weight'):
        AttnFDLoss(loss_weight=-1)
    with pytest.raises(ValueError, match='alignment'):
        AttnFDLoss()(torch.randn(2, 4, 3, 3), torch.randn(2, 8, 3, 3))
    with pytest.raises(ValueError, match=r'\[B, C, H, W\]'):
        AttnFDLoss()(torch.randn(2, 4), torch.randn(2, 4))


def test_all_zero_maps_do_not_give_nan():
    z = torch.zeros(1, 2, 3, 3, requires_grad=True)
    for mode in MODES:
        out = AttnFDLoss(normalize=mode)(z, torch.ones(1, 2, 3, 3))
        out.backward()
        assert torch.isfinite(out) and torch.isfinite(z.grad).all()
