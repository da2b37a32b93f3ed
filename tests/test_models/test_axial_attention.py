# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""AxialAttention1d/2d: shapes, exactness, equivariance, memory."""
import pytest
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from mmseg_attnkd.models.attention import AxialAttention1d, AxialAttention2d


def _naive_axis(layer: AxialAttention1d, x: torch.Tensor) -> torch.Tensor:
    """Loop-by-loop Axial-DeepLab formula (height axis, L <= span)."""
    q, k, v = layer._qkv(layer._to_sequences(x))
    b, g, c, length = v.shape
    s = layer.span
    out = torch.zeros_like(v)
    for o in range(length):
        logits = torch.stack([
            (q[:, :, :, o] * k[:, :, :, p]).sum(-1) +
            (q[:, :, :, o] * layer.rel_q[:, p - o + s - 1]).sum(-1) +
            (k[:, :, :, p] * layer.rel_k[:, p - o + s - 1]).sum(-1)
            for p in range(length)
        ], -1) * layer.scale  # (b, g, L)
        w = logits.softmax(-1)
        vals = torch.stack([
            v[:, :, :, p] + layer.rel_v[:, p - o + s - 1]
            for p in range(length)
        ], -1)  # (b, g, c, L)
        out[:, :, :, o] = (w[:, :, None, :] * vals).sum(-1)
    return layer._from_sequences(out.reshape(b, g * c, length), x.shape)


@pytest.mark.parametrize('size', [(16, 16), (7, 12), (40, 9), (1, 5)])
@pytest.mark.parametrize('long_axis', ['interpolate', 'window'])
def test_axial2d_shapes_finite_and_any_size(size, long_axis):
    torch.manual_seed(0)
    m = AxialAttention2d(5, channels=16, num_heads=4, span=8,
                         long_axis=long_axis, zero_init=False)
    x = torch.randn(2, 5, *size)
    y = m(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    y.square().mean().backward()
    grads = [p.grad for p in m.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert m.attn_w.rel_q.grad.abs().sum() > 0  # W > 1 in every case


def test_stride_attends_on_coarser_grid_and_keeps_shape():
    torch.manual_seed(0)
    m = AxialAttention2d(3, channels=8, num_heads=2, span=16, stride=4,
                         zero_init=False)
    x = torch.randn(1, 3, 30, 21)
    assert m(x).shape == x.shape
    with pytest.raises(ValueError, match='stride'):
        AxialAttention2d(3, stride=0)


def test_zero_init_is_exact_identity():
    m = AxialAttention2d(7, channels=16, num_heads=4, span=8)
    x = torch.randn(2, 7, 12, 20) * 10
    assert torch.equal(m(x), x)
    assert torch.count_nonzero(m.proj.weight) == 0


def test_axis_matches_naive_axial_deeplab_formula():
    torch.manual_seed(0)
    layer = AxialAttention1d(8, 'height', num_heads=2, span=16)
    x = torch.randn(2, 8, 9, 3)
    torch.testing.assert_close(layer(x), _naive_axis(layer, x),
                               atol=1e-5, rtol=1e-5)
    # the width layer is the height layer on the transposed map
    w_layer = AxialAttention1d(8, 'width', num_heads=2, span=16)
    w_layer.load_state_dict(layer.state_dict())
    torch.testing.assert_close(
        w_layer(x.transpose(2, 3)), layer(x).transpose(2, 3))


@pytest.mark.parametrize('long_axis', ['interpolate', 'window'])
def test_relative_encoding_is_translation_equivariant(long_axis):
    """logits(o + s, p + s) of a shifted input == logits(o, p)."""
    torch.manual_seed(0)
    layer = AxialAttention1d(8, 'height', num_heads=2, span=24,
                             long_axis=long_axis)
    length, shift = 20, 5
    x = torch.randn(1, 8, length, 1)
    shifted = torch.roll(x, shifts=shift, dims=2)
    a = layer.attention_logits(x)[0]  # (G, L, L)
    b = layer.attention_logits(shifted)[0]
    keep = length - shift
    torch.testing.assert_close(b[:, shift:, shift:], a[:, :keep, :keep],
                               atol=1e-5, rtol=1e-5)
    # and the encoding matters: positions are not interchangeable
    q, k, _ = layer._qkv(layer._to_sequences(x))
    no_pos = torch.einsum('bgci,bgcj->bgij', q, k)[0] * layer.scale
    assert not torch.allclose(a, no_pos, atol=1e-3)


def test_window_mode_limits_context_and_interpolate_is_global():
    torch.manual_seed(0)
    x = torch.randn(1, 8, 30, 1)
    win = AxialAttention1d(8, 'height', num_heads=2, span=4,
                           long_axis='window')
    logits = win.attention_logits(x)[0]
    far = (torch.arange(30)[None] - torch.arange(30)[:, None]).abs() >= 4
    assert torch.isinf(logits[:, far]).all()
    assert torch.isfinite(logits[:, ~far]).all()
    glob = AxialAttention1d(8, 'height', num_heads=2, span=4)
    assert torch.isfinite(glob.attention_logits(x)).all()
    table = glob.relative_embeddings(glob.rel_q, 30)
    # interpolation keeps offset 0 and the extreme offsets of the table
    torch.testing.assert_close(table[:, 5, 5], glob.rel_q[:, 3])
    torch.testing.assert_close(table[:, 0, 29], glob.rel_q[:, -1])


def _peak_bytes(fn) -> int:
    """Peak of live CPU tensor memory during ``fn`` (profiler timeline)."""
    with profile(activities=[ProfilerActivity.CPU],
                 profile_memory=True) as prof:
        with torch.no_grad():
            fn()
    events = sorted((e for e in prof.events()
                     if e.self_cpu_memory_usage != 0),
                    key=lambda e: e.time_range.start)
    live = peak = 0
    for e in events:
        live += e.self_cpu_memory_usage
        peak = max(peak, live)
    return peak


def test_peak_memory_far_below_full_self_attention():
    torch.manual_seed(0)
    h = w = 64
    channels = 16
    m = AxialAttention2d(4, channels=channels, num_heads=1, span=64)
    x = torch.randn(1, 4, h, w)
    axial_peak = _peak_bytes(lambda: m(x))

    # full 2-D single-head self-attention of the same width, materialised
    tokens = torch.randn(1, h * w, channels)
    qkv = torch.nn.Linear(channels, 3 * channels)

    def full():
        q, k, v = qkv(tokens).chunk(3, dim=-1)
        attn = (q @ k.transpose(1, 2) * channels**-0.5).softmax(-1)
        return attn @ v

    full_peak = _peak_bytes(full)
    full_matrix = (h * w)**2 * 4
    assert full_peak >= full_matrix  # the measurement sees the matrix
    assert axial_peak > 0
    assert axial_peak * 10 < full_peak, (axial_peak, full_peak)
    # axial matrices: 2 axes * (W * H * H) floats, ~64x fewer than (HW)^2
    assert axial_peak < full_matrix / 8


@pytest.mark.parametrize('kwargs,match', [
    (dict(in_channels=4, channels=10, num_heads=4), 'multiple of'),
    (dict(in_channels=0), 'in_channels'),
    (dict(in_channels=4, long_axis='crop'), 'long_axis'),
])
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AxialAttention2d(**kwargs)


def test_wrong_input_channels_names_the_fix():
    m = AxialAttention2d(4, channels=8, num_heads=2)
    with pytest.raises(ValueError, match='in_channels'):
        m(torch.randn(1, 5, 8, 8))
    # gradient flows to the input (student logits)
    x = torch.randn(1, 4, 8, 8, requires_grad=True)
    m.proj.weight.data.normal_()
    F.mse_loss(m(x), torch.zeros_like(x)).backward()
    assert x.grad.abs().sum() > 0
