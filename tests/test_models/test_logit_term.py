# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""A logit term beside the stage losses of one run (AttnFD + CWD)."""
import pytest
import torch

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.testing import seg_batch, tiny_deeplabv3plus_cfg

CWD = dict(type='ChannelWiseDivergence', tau=1, loss_weight=5)


def _build(**distiller):
    from mmrazor.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(dict(
        _scope_='mmrazor', type='SegSingleTeacherDistill',
        architecture=tiny_deeplabv3plus_cfg(8, 4),
        teacher=tiny_deeplabv3plus_cfg(16, 4),
        distiller=dict(type='AttnFDDistiller', teacher_attention='random',
                       **distiller))).train()


def test_attnfd_with_cwd_adds_exactly_the_cwd_loss():
    alone = _build()
    both = _build(logit_loss=CWD, logit_loss_name='loss_cwd')
    inputs, samples = seg_batch(alone, 4, 2, 64, 0)
    a, b = alone.loss(inputs, samples), both.loss(inputs, samples)
    assert set(b) - set(a) == {'distill.loss_cwd'}
    for key in a:  # the AttnFD terms and the task losses are unchanged
        torch.testing.assert_close(b[key], a[key])
    # the value is MMRazor's CWD on the two models' conv_seg outputs
    from mmrazor.models.losses import ChannelWiseDivergence
    s = both.distiller.student_recorders.get_recorder('logits')
    t = both.distiller.teacher_recorders.get_recorder('logits')
    want = ChannelWiseDivergence(tau=1, loss_weight=5)(
        s.data_buffer[0], t.data_buffer[0])
    torch.testing.assert_close(b['distill.loss_cwd'], want)
    b['distill.loss_cwd'].backward()
    assert both.student.decode_head.conv_seg.weight.grad.abs().sum() > 0


def test_bad_logit_term_settings_are_one_line():
    with pytest.raises(ValueError, match='clashes with the stage losses'):
        _build(logit_loss=CWD, logit_loss_name='loss_attnfd_9')
    with pytest.raises(ValueError, match='no module "decode_head.cls"'):
        _build(logit_loss=CWD, logit_source='decode_head.cls')
