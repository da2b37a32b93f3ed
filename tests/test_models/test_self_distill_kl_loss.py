# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""SelfDistillKLLoss: values, gradients, and axial SD trained with it."""
import math

import pytest
import torch

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.losses import SelfDistillKLLoss
from mmseg_attnkd.testing import seg_batch, tiny_fcn_cfg


def _manual(s, t, tau):
    """Per-pixel KL(p_t || p_s) at temperature tau, one pixel at a time."""
    total, n = 0.0, 0
    for b in range(s.shape[0]):
        for i in range(s.shape[2]):
            for j in range(s.shape[3]):
                ps = torch.softmax(s[b, :, i, j] / tau, 0)
                pt = torch.softmax(t[b, :, i, j] / tau, 0)
                total += float((pt * (pt.log() - ps.log())).sum())
                n += 1
    return tau**2 * total / n


@pytest.mark.parametrize('tau', [1.0, 2.0, 4.0])
def test_value_is_the_mean_per_pixel_kl(tau):
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(2, 5, 3, 4, generator=g), torch.randn(
        2, 5, 3, 4, generator=g)
    got = SelfDistillKLLoss(tau=tau, loss_weight=0.5)(s, t)
    assert math.isclose(float(got), 0.5 * _manual(s, t, tau), rel_tol=1e-5)
    assert float(SelfDistillKLLoss(tau=tau)(t, t)) == pytest.approx(0,
                                                                   abs=1e-6)


def test_computes_in_fp32_under_bf16_autocast():
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(2, 5, 3, 4, generator=g), torch.randn(
        2, 5, 3, 4, generator=g)
    s16, t16 = s.bfloat16().requires_grad_(), t.bfloat16()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = SelfDistillKLLoss(tau=2.0)(s16, t16)
    assert got.dtype == torch.float32
    # the fp32 value of the bf16 inputs, not a bf16 rounding of it
    want = SelfDistillKLLoss(tau=2.0)(s16.detach().float(), t16.float())
    assert float(got) == float(want)
    got.backward()
    assert s16.grad.dtype == torch.bfloat16 and s16.grad.abs().sum() > 0


def test_binary_output_is_a_bernoulli_kl():
    s, t = torch.tensor([[[[0.3]]]]), torch.tensor([[[[-1.2]]]])
    ps, pt = torch.sigmoid(s).item(), torch.sigmoid(t).item()
    want = pt * math.log(pt / ps) + (1 - pt) * math.log((1 - pt) / (1 - ps))
    assert float(SelfDistillKLLoss()(s, t)) == pytest.approx(want, rel=1e-5)


def test_teacher_is_a_target_unless_asked():
    s = torch.randn(1, 3, 2, 2, requires_grad=True)
    t = torch.randn(1, 3, 2, 2, requires_grad=True)
    SelfDistillKLLoss()(s, t).backward()
    assert s.grad.abs().sum() > 0 and t.grad is None
    t2 = t.detach().clone().requires_grad_()
    SelfDistillKLLoss(detach_teacher=False)(s, t2).backward()
    assert t2.grad.abs().sum() > 0


def test_bad_inputs_are_one_line():
    with pytest.raises(ValueError, match='tau must be > 0'):
        SelfDistillKLLoss(tau=0)
    with pytest.raises(ValueError, match='differ in shape'):
        SelfDistillKLLoss()(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 3))


def test_axial_self_distillation_trains_with_the_kl_term():
    from mmrazor.registry import MODELS
    torch.manual_seed(0)
    algo = MODELS.build(dict(
        _scope_='mmrazor', type='SegSelfDistill',
        architecture=tiny_fcn_cfg(8, 4),
        distiller=dict(type='AxialSelfDistiller',
                       axial=dict(channels=8, num_heads=2, span=16),
                       mse=dict(type='SelfDistillKLLoss', tau=2.0)))).train()
    optim = torch.optim.SGD(
        [p for p in algo.parameters() if p.requires_grad], lr=0.05)
    inputs, samples = seg_batch(algo, 4, 2, 32, 0)
    first = None
    for _ in range(8):
        losses = algo.loss(inputs, samples)
        kl = [v for k, v in losses.items() if k.endswith('loss_sd_mse')]
        assert kl and torch.isfinite(kl[0])
        loss, _ = algo.parse_losses(losses)
        first = float(loss) if first is None else first
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert float(loss) < first  # the total loss falls on a fixed batch
