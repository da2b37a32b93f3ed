# Copyright (c) mmseg-attnkd contributors. All rights reserved.
import pytest
import torch

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.attention import CBAM


@pytest.mark.parametrize('parameter_free', [False, True])
@pytest.mark.parametrize('shape', [(2, 8, 5, 7), (1, 3, 1, 1), (3, 64, 4, 4)])
def test_cbam_keeps_shape_and_maps_in_unit_interval(parameter_free, shape):
    torch.manual_seed(0)
    b, c, h, w = shape
    cbam = CBAM(c, parameter_free=parameter_free)
    x = torch.randn(*shape) * 3
    out = cbam(x)
    assert out.shape == x.shape
    ca, sa = cbam.attention_maps(x)
    assert ca.shape == (b, c, 1, 1)
    assert sa.shape == (b, 1, h, w)
    for att in (ca, sa):
        assert torch.all(att > 0) and torch.all(att < 1)
    # the forward is exactly x * channel_att * spatial_att
    torch.testing.assert_close(out, x * ca * sa)
    # the last maps are kept (detached) for visualisation
    torch.testing.assert_close(cbam.last_channel_att, ca)
    torch.testing.assert_close(cbam.last_spatial_att, sa)
    assert not cbam.last_spatial_att.requires_grad


def test_parameter_free_cbam_formula():
    torch.manual_seed(1)
    cbam = CBAM(6, parameter_free=True)
    assert sum(p.numel() for p in cbam.parameters()) == 0
    x = torch.randn(2, 6, 4, 5)
    ca = torch.sigmoid(
        x.mean(dim=(2, 3), keepdim=True) + x.amax(dim=(2, 3), keepdim=True))
    y = x * ca
    sa = torch.sigmoid(
        y.mean(dim=1, keepdim=True) + y.amax(dim=1, keepdim=True))
    torch.testing.assert_close(cbam(x), x * ca * sa)


def test_cbam_channel_mlp_is_shared_between_pools():
    """Same MLP for avg and max descriptors: with max == avg (constant
    maps) the channel attention is sigmoid(2 * mlp(avg))."""
    torch.manual_seed(2)
    cbam = CBAM(16, reduction=4)
    x = torch.randn(2, 16, 1, 1).expand(2, 16, 3, 3).contiguous()
    desc = x[:, :, :1, :1]
    expected = torch.sigmoid(2 * cbam.channel_mlp(desc))
    torch.testing.assert_close(cbam.channel_attention(x), expected)


@pytest.mark.parametrize('channels,reduction,min_hidden,hidden',
                         [(64, 16, 8, 8), (512, 16, 8, 32), (2, 16, 8, 2),
                          (16, 16, 1, 1)])
def test_cbam_hidden_width_for_tiny_channels(channels, reduction, min_hidden,
                                             hidden):
    cbam = CBAM(channels, reduction=reduction, min_hidden=min_hidden)
    assert cbam.hidden_channels == hidden
    assert cbam.channel_mlp[0].out_channels == hidden
    assert cbam(torch.randn(1, channels, 3, 3)).shape == (1, channels, 3, 3)


def test_cbam_gradients_reach_mlp_and_spatial_conv():
    torch.manual_seed(3)
    cbam = CBAM(8, reduction=2)
    x = torch.randn(2, 8, 6, 6, requires_grad=True)
    cbam(x).pow(2).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in cbam.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_cbam_bad_arguments():
    with pytest.raises(ValueError, match='odd'):
        CBAM(8, kernel_size=4)
    with pytest.raises(ValueError, match='channels'):
        CBAM(0)
    with pytest.raises(ValueError, match='reduction'):
        CBAM(8, reduction=0)
    with pytest.raises(ValueError, match=r'\[B, 8, H, W\]'):
        CBAM(8)(torch.randn(1, 4, 3, 3))


def test_cbam_builds_from_mmrazor_registry():
    from mmrazor.registry import MODELS
    cbam = MODELS.build(dict(type='CBAM', channels=8, kernel_size=3))
    assert isinstance(cbam, CBAM) and cbam.spatial_conv.kernel_size == (3, 3)
