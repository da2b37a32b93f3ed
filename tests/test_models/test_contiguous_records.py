# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""CWD on SegFormer logits: MixVisionTransformer computes channels-last
maps, and MMRazor's ChannelWiseDivergence flattens with ``.view``."""
import pytest
import torch
from mmrazor.models.losses import ChannelWiseDivergence
from mmrazor.registry import MODELS

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.distillers import contiguous
from mmseg_attnkd.testing import (seg_batch, tiny_deeplabv3plus_cfg,
                                  tiny_fcn_cfg)

NUM_CLASSES = 4
_NORM = dict(type='BN', requires_grad=True)


def tiny_segformer_cfg(embed_dims=8):
    """SegFormer (MiT with one layer per stage + SegformerHead)."""
    cfg = tiny_fcn_cfg(4, NUM_CLASSES, crop_size=(64, 64))
    cfg['backbone'] = dict(
        type='MixVisionTransformer', in_channels=3, embed_dims=embed_dims,
        num_stages=4, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 4, 8],
        patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3), mlp_ratio=2, qkv_bias=True, drop_rate=0.0,
        attn_drop_rate=0.0, drop_path_rate=0.0)
    cfg['decode_head'] = dict(
        type='SegformerHead', in_channels=[embed_dims * k for k in
                                           (1, 2, 4, 8)],
        in_index=[0, 1, 2, 3], channels=16, dropout_ratio=0.0,
        num_classes=NUM_CLASSES, norm_cfg=_NORM, align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                         loss_weight=1.0))
    return cfg


def test_segformer_logits_are_not_contiguous_and_stock_cwd_fails():
    """The failure this guards against, on MMSeg/MMRazor alone."""
    from mmseg.registry import MODELS as SEG_MODELS
    model = SEG_MODELS.build(tiny_segformer_cfg())
    logits = model(torch.randn(2, 3, 64, 64), mode='tensor')
    assert not logits.is_contiguous()
    with pytest.raises(RuntimeError, match='view size is not compatible'):
        ChannelWiseDivergence(tau=1.0)(logits, logits)
    fixed = contiguous((logits, [logits]))
    assert fixed[0].is_contiguous() and fixed[1][0].is_contiguous()
    assert torch.equal(fixed[0], logits)


@pytest.mark.parametrize('student', ['segformer', 'deeplabv3plus'])
def test_cwd_from_a_segformer_teacher_trains(student):
    # both at output stride 4, as CWD compares logits of one size
    arch = tiny_segformer_cfg(8) if student == 'segformer' else \
        tiny_deeplabv3plus_cfg(4, NUM_CLASSES, crop_size=(64, 64))
    algo = MODELS.build(dict(
        _scope_='mmrazor', type='SegSingleTeacherDistill',
        architecture=arch, teacher=tiny_segformer_cfg(16),
        distiller=dict(type='StageDistiller',
                       stages=['decode_head.conv_seg'],
                       loss=dict(type='ChannelWiseDivergence', tau=1,
                                 loss_weight=5),
                       loss_name='loss_cwd')))
    algo.train()
    inputs, samples = seg_batch(algo, NUM_CLASSES, batch_size=2, size=64)
    losses = algo(inputs, samples, mode='loss')
    cwd = losses['distill.loss_cwd_0']
    assert torch.isfinite(cwd) and cwd.item() > 0
    cwd.backward()
    grad = algo.architecture.decode_head.conv_seg.weight.grad
    assert grad is not None and grad.abs().sum() > 0
