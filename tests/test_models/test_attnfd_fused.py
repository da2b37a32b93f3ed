# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The AttnFD stage loss with gradients found in forward equals the
module-by-module computation: value, gradients w.r.t. the student feature
and every connector parameter, and the BN running statistics."""
import copy

import pytest
import torch
import torch.nn as nn
from _attnfd_reference import assert_rel, reference_loss

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.connectors import CBAMConnector
from mmseg_attnkd.models.losses import AttnFDLoss, attnfd_fused, attnfd_loss
from mmseg_attnkd.models.losses.attnfd_fused import attnfd_stage_loss
from mmseg_attnkd.models.losses.attnfd_loss import fusable_stage

MODES = ['channel', 'tensor', 'batch']


def _stage(c_s, c_t, align=True, spatial_norm=False, seed=0):
    torch.manual_seed(seed)
    conn = CBAMConnector(c_s, c_t, align=align, spatial_norm=spatial_norm)
    with torch.no_grad():  # a BN that is not the identity
        for p in conn.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return conn


def _reference(conn, feature, target, mode, weight):
    """Plain autograd: connector modules, then the loss formula."""
    x = feature.clone().requires_grad_()
    value = reference_loss(conn(x), target, mode, weight)
    value.backward()
    return value.detach(), x.grad, {
        n: p.grad for n, p in conn.named_parameters()}


def _fused(conn, feature, target, mode, weight):
    x = feature.clone().requires_grad_()
    loss = AttnFDLoss(normalize=mode, loss_weight=weight)
    assert fusable_stage(conn, loss, x, target)
    value = attnfd_stage_loss(x, conn, target, loss)
    value.backward()
    return value.detach(), x.grad, {
        n: p.grad for n, p in conn.named_parameters()}


CASES = [(True, False, 6, 20), (True, True, 16, 16), (False, False, 12, 12)]


def _case(align, spatial_norm, c_s, c_t, size, dtype, seed=1):
    conn = _stage(c_s, c_t, align, spatial_norm).to(dtype).train()
    g = torch.Generator().manual_seed(seed)
    feature = torch.randn(3, c_s, *size, generator=g, dtype=dtype)
    target = torch.randn(3, c_t, 7, 5, generator=g, dtype=dtype)
    return conn, feature, target


def _chunks_of_8(monkeypatch):
    # chunks of 8 teacher channels: 20 channels need three
    monkeypatch.setattr(attnfd_fused, 'WHOLE_ELEMENTS', 0)
    monkeypatch.setattr(attnfd_fused, 'CHUNK_ELEMENTS', 8 * 3 * 7 * 5)


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('align,spatial_norm,c_s,c_t', CASES)
@pytest.mark.parametrize('size', [(7, 5), (4, 3)])
def test_stage_loss_equals_module_path(mode, align, spatial_norm, c_s, c_t,
                                       size, monkeypatch):
    # float64, in chunks; a (4, 3) student map is resized to the
    # teacher's (7, 5) by the loss
    _chunks_of_8(monkeypatch)
    conn, feature, target = _case(align, spatial_norm, c_s, c_t, size,
                                  torch.float64)
    other = copy.deepcopy(conn)
    want = _reference(conn, feature, target, mode, 2.0)
    got = _fused(other, feature, target, mode, 2.0)
    assert_rel(got[0], want[0])
    assert_rel(got[1], want[1])
    assert sorted(got[2]) == sorted(want[2])
    for name, grad in want[2].items():
        assert got[2][name] is not None, name
        assert_rel(got[2][name], grad)
    for (name, a), (_, b) in zip(conn.named_buffers(),
                                 other.named_buffers()):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-12), name


@pytest.mark.parametrize('mode', MODES)
@pytest.mark.parametrize('align,spatial_norm,c_s,c_t', CASES)
@pytest.mark.parametrize('size', [(7, 5), (4, 3)])
def test_float32_in_one_chunk_is_bit_exact(mode, align, spatial_norm, c_s,
                                           c_t, size):
    conn, feature, target = _case(align, spatial_norm, c_s, c_t, size,
                                  torch.float32)
    other = copy.deepcopy(conn)
    want = _reference(conn, feature, target, mode, 2.0)
    got = _fused(other, feature, target, mode, 2.0)
    assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    for name, grad in want[2].items():
        assert torch.equal(got[2][name], grad), name
    for a, b in zip(conn.buffers(), other.buffers()):
        assert torch.equal(a, b)


@pytest.mark.parametrize('mode', MODES)
def test_float32_in_chunks_is_as_accurate_as_module_path(mode, monkeypatch):
    # chunks sum the student-feature gradient over channel groups, a float
    # rounding change: both float32 results are compared with float64
    _chunks_of_8(monkeypatch)
    conn, feature, target = _case(True, False, 6, 20, (4, 3), torch.float32)
    exact = _reference(copy.deepcopy(conn).double(), feature.double(),
                       target.double(), mode, 2.0)
    want = _reference(copy.deepcopy(conn), feature, target, mode, 2.0)
    got = _fused(copy.deepcopy(conn), feature, target, mode, 2.0)
    pairs = [(got[0], want[0], exact[0]), (got[1], want[1], exact[1])] + [
        (got[2][n], want[2][n], exact[2][n]) for n in exact[2]]
    for new, old, true in pairs:
        scale = true.abs().max()
        err_new = (new.double() - true).abs().max() / scale
        err_old = (old.double() - true).abs().max() / scale
        assert err_new <= 4 * err_old + 1e-6


def test_frozen_parts_and_no_grad():
    conn = _stage(6, 10).train()
    conn.cbam.requires_grad_(False)
    conn.align[1].weight.requires_grad_(False)
    feature = torch.randn(2, 6, 4, 4)
    target = torch.randn(2, 10, 4, 4)
    ref = copy.deepcopy(conn)
    want = _reference(ref, feature, target, 'channel', 1.0)
    got = _fused(conn, feature, target, 'channel', 1.0)
    assert_rel(got[1], want[1])
    assert_rel(got[2]['align.0.weight'], want[2]['align.0.weight'])
    assert got[2]['align.1.weight'] is None
    assert got[2]['cbam.spatial_conv.weight'] is None
    with torch.no_grad():
        loss = AttnFDLoss()
        assert not fusable_stage(conn, loss, feature, target)


def test_not_fusable_cases():
    conn = _stage(6, 10)
    loss = AttnFDLoss()
    f, t = torch.randn(2, 6, 4, 4), torch.randn(2, 10, 4, 4)
    assert fusable_stage(conn, loss, f, t)
    assert fusable_stage(conn, loss, f, torch.randn(2, 10, 8, 8))
    assert not fusable_stage(conn, loss, f, torch.randn(3, 10, 4, 4))
    assert not fusable_stage(conn, loss, f[:1, :, :1, :1], t[:1])
    assert not fusable_stage(conn, loss, f.half(), t)
    assert not fusable_stage(conn, nn.MSELoss(), f, t)
    handle = conn.align.register_forward_hook(lambda *a: None)
    assert not fusable_stage(conn, loss, f, t)
    handle.remove()
    assert fusable_stage(conn, loss, f, t)


def test_distiller_uses_the_fused_path_with_equal_results(monkeypatch):
    from mmrazor.registry import MODELS

    from mmseg_attnkd.testing import seg_batch, tiny_deeplabv3plus_cfg
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return attnfd_stage_loss(*args, **kwargs)

    monkeypatch.setattr(attnfd_loss, 'attnfd_stage_loss', counted)

    def run(fused):
        torch.manual_seed(0)
        algo = MODELS.build(dict(
            _scope_='mmrazor', type='SegSingleTeacherDistill',
            architecture=tiny_deeplabv3plus_cfg(8, 4),
            teacher=tiny_deeplabv3plus_cfg(16, 4),
            distiller=dict(type='AttnFDDistiller',
                           teacher_attention='random')))
        algo.train()
        if not fused:
            algo.distiller.fused_loss = lambda *args: None
        inputs, samples = seg_batch(algo, 4, batch_size=2, size=64, seed=0)
        losses = algo(inputs, samples, mode='loss')
        total, _ = algo.parse_losses(losses)
        total.backward()
        return losses, dict(algo.named_parameters())

    got_losses, got = run(True)
    assert len(calls) == 3  # the three 'auto' stages of DeepLabV3+
    want_losses, want = run(False)
    # one chunk per stage at this size: bit for bit
    for name, value in want_losses.items():
        assert torch.equal(got_losses[name].detach(), value.detach()), name
    for name, param in want.items():
        if param.grad is not None:
            assert torch.equal(got[name].grad, param.grad), name


@pytest.mark.parametrize('parameter_free', [False, True])
def test_cbam_without_autograd_equals_its_autograd_forward(parameter_free):
    from mmseg_attnkd.models.attention.cbam import CBAM
    torch.manual_seed(0)
    cbam = CBAM(12, parameter_free=parameter_free)
    x = torch.randn(2, 12, 6, 5)
    keep = x.clone()
    with torch.no_grad():
        fast = cbam(x)  # channel-refined map reused, scaled in place
    slow = cbam(x.clone().requires_grad_())
    ca, sa = cbam.attention_maps(x)
    assert torch.equal(fast, slow.detach())
    assert torch.equal(fast, x * ca * sa)
    assert torch.equal(x, keep)
