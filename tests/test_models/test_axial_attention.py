# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""AxialAttention1d/2d: shapes, exactness, equivariance, memory, and
equality with the original einsum maths (``_axial_oracle``)."""
import _axial_oracle as oracle
import pytest
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from mmseg_attnkd.models.attention import AxialAttention1d, AxialAttention2d


def _naive_axis(layer: AxialAttention1d, x: torch.Tensor) -> torch.Tensor:
    """Loop-by-loop Axial-DeepLab formula (height axis, L <= span)."""
    q, k, v = oracle.qkv(layer, oracle.sequences(layer, x))
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
    return oracle.unsequence(layer, out.reshape(b, g * c, length), x.shape)


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
    q, k, _ = oracle.qkv(layer, oracle.sequences(layer, x))
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


# ---------------------------------------------------------------------------
# Equality with the original einsum maths (_axial_oracle.py), on the same
# parameters.
#
# Tolerance: float32 atol=rtol=1e-5, with atol relative to the tensor's
# scale (``1e-5 * max|ref|``, at least 1e-5). The two implementations sum
# the same products in different orders; a gradient entry is a sum of up to
# N*H*W terms, so its rounding error is ~eps * sqrt(terms) * max|term|,
# i.e. relative to the tensor's magnitude, not to the (possibly tiny) entry
# itself. In float64 the match is checked at 1e-10.
_ORACLE_CASES = {
    'short_axes': ((2, 5, 7, 9), dict(channels=16, num_heads=4, span=16)),
    'interpolate': ((1, 5, 20, 9), dict(channels=16, num_heads=4, span=8)),
    'window': ((3, 5, 20, 13),
               dict(channels=16, num_heads=4, span=8, long_axis='window')),
    'stride2_qk': ((3, 4, 13, 11),
                   dict(channels=16, num_heads=2, span=4, stride=2,
                        qk_channels=3)),
    'heads1_h1': ((3, 3, 1, 9),
                  dict(channels=16, num_heads=1, span=8, long_axis='window')),
    'heads8_w1': ((1, 3, 9, 1), dict(channels=16, num_heads=8, span=8)),
    'default': ((1, 11, 23, 30), dict()),
}


def _outputs_and_grads(forward, module, x, grad_out):
    """Output, input gradient and every parameter gradient of
    ``forward(module, x)`` against ``grad_out``."""
    x = x.clone().requires_grad_()
    names, params = zip(*module.named_parameters())
    y = forward(module, x)
    grads = torch.autograd.grad((y * grad_out).sum(), (x, ) + params)
    return y.detach(), grads[0], dict(zip(names, grads[1:]))


def _assert_close_scaled(actual, expected, tol, what):
    atol = max(tol, tol * expected.abs().max().item())
    torch.testing.assert_close(actual, expected, atol=atol, rtol=tol,
                               msg=lambda m: f'{what}: {m}')


@pytest.mark.parametrize('dtype,tol', [(torch.float32, 1e-5),
                                       (torch.float64, 1e-10)])
@pytest.mark.parametrize('case', sorted(_ORACLE_CASES))
def test_outputs_and_all_gradients_equal_oracle(case, dtype, tol):
    shape, kwargs = _ORACLE_CASES[case]
    torch.manual_seed(0)
    block = AxialAttention2d(shape[1], zero_init=False, **kwargs).to(dtype)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=gen, dtype=dtype)
    grad_out = torch.randn(*shape, generator=gen, dtype=dtype)
    y_ref, gx_ref, g_ref = _outputs_and_grads(oracle.block_forward, block,
                                              x, grad_out)
    y, gx, g = _outputs_and_grads(type(block).__call__, block, x, grad_out)
    _assert_close_scaled(y, y_ref, tol, 'output')
    _assert_close_scaled(gx, gx_ref, tol, 'input grad')
    assert g.keys() == g_ref.keys()
    for name in g_ref:
        _assert_close_scaled(g[name], g_ref[name], tol, name)
    # no-grad (inference) path: same numbers as the training path
    with torch.no_grad():
        _assert_close_scaled(block(x), y_ref, tol, 'no-grad output')


@pytest.mark.parametrize('heads', [1, 4, 8])
@pytest.mark.parametrize('axis', ['height', 'width'])
def test_axis_layer_and_logits_equal_oracle(heads, axis):
    torch.manual_seed(0)
    layer = AxialAttention1d(16, axis, num_heads=heads, span=8,
                             long_axis='window')
    for shape in [(2, 16, 6, 11), (1, 16, 12, 5)]:  # L <= span and > span
        x = torch.randn(*shape)
        torch.testing.assert_close(layer(x), oracle.axis_forward(layer, x),
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(layer.attention_logits(x),
                                   oracle.attention_logits(layer, x),
                                   atol=1e-5, rtol=1e-5)
        length = shape[2] if axis == 'height' else shape[3]
        torch.testing.assert_close(
            layer.relative_embeddings(layer.rel_v, length),
            oracle.relative_embeddings(layer, layer.rel_v, length))


def test_checkpoint_layout_is_pinned():
    """The parameter names and shapes released ``AxialRefineHead`` and axial
    SD checkpoints hold (8 heads of 8 channels, qk 4 per head, span 16)."""
    block = AxialAttention2d(11, long_axis='window', span=16)
    axis = {'rel_q': (4, 31), 'rel_k': (4, 31), 'rel_v': (8, 31),
            'qkv.weight': (8 * (4 + 4 + 8), 64, 1)}
    want = {'embed.weight': (64, 11, 1, 1), 'embed.bias': (64, ),
            'norm1.weight': (64, ), 'norm1.bias': (64, ),
            **{f'attn_h.{k}': v for k, v in axis.items()},
            **{f'attn_w.{k}': v for k, v in axis.items()},
            'norm2.weight': (64, ), 'norm2.bias': (64, ),
            'proj.weight': (11, 64, 1, 1), 'proj.bias': (11, )}
    state = block.state_dict()
    assert list(state) == list(want)
    assert {k: tuple(v.shape) for k, v in state.items()} == want
