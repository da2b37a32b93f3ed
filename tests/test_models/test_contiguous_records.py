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
                                  tiny_segformer_cfg)

NUM_CLASSES = 4


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
