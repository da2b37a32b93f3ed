# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial self-distillation with an EMA self-teacher (ema_teacher)."""
import pytest
import torch
from mmengine.optim import OptimWrapper

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.testing import tiny_fcn_cfg

AXIAL = dict(channels=8, num_heads=2, span=16)


def _build(ema=dict(momentum=0.5), **distiller):
    from mmrazor.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(dict(
        _scope_='mmrazor', type='SegSelfDistill',
        architecture=tiny_fcn_cfg(8, 4), ema_teacher=ema,
        distiller=dict(type='AxialSelfDistiller', axial=AXIAL,
                       **distiller))).train()


def _raw_batch(n=2, size=32, seed=0):
    """Unprocessed images and labels, as a dataloader yields them."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(n):
        label = torch.randint(0, 4, (1, size, size), generator=g)
        inputs.append((label * 60 + 20).repeat(3, 1, 1).to(torch.uint8))
        sample = SegDataSample(metainfo=dict(
            img_shape=(size, size), ori_shape=(size, size),
            pad_shape=(size, size)))
        sample.gt_sem_seg = PixelData(data=label)
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _params(module):
    return [p.detach().clone() for p in module.parameters()]


def test_the_ema_follows_the_student_and_sets_the_consistency_target():
    algo = _build()
    optim = OptimWrapper(torch.optim.SGD(
        [p for p in algo.parameters() if p.requires_grad], lr=0.1))
    ema = algo.ema_teacher.ema.module
    assert not any(p.requires_grad for p in ema.parameters())
    algo.train_step(_raw_batch(), optim)  # first update: a copy
    for a, b in zip(ema['student'].parameters(),
                    algo.architecture.parameters()):
        torch.testing.assert_close(a, b)
    before = _params(ema['student'])
    live_before = _params(algo.architecture)
    algo.train_step(_raw_batch(seed=1), optim)
    # momentum 0.5: the average sits halfway between old and new weights
    for avg, old, new in zip(ema['student'].parameters(), before,
                             algo.architecture.parameters()):
        torch.testing.assert_close(avg, 0.5 * old + 0.5 * new.detach())
    assert any(not torch.equal(a, b) for a, b in zip(
        live_before, _params(algo.architecture)))
    # the consistency loss compares the student with the EMA teacher
    data = algo.data_preprocessor(_raw_batch(seed=2), True)
    losses = algo.loss(data['inputs'], data['data_samples'])
    target = algo.ema_teacher.teacher_output(data['inputs'])
    want = algo.distiller.distill_losses['loss_sd_mse'](
        algo.distiller.student_output(), target)
    torch.testing.assert_close(losses['distill.loss_sd_mse'], want)
    live = algo.distiller.distill_losses['loss_sd_mse'](
        algo.distiller.student_output(), algo.distiller.teacher_output())
    assert not torch.allclose(want, live)  # not the live block's target
    assert ema.training is False  # the average always runs in eval mode
    keys = algo.state_dict()
    assert any(k.startswith('ema_teacher.ema.module.block.') for k in keys)


def test_without_ema_the_live_block_is_the_teacher():
    algo = _build(ema=None)
    assert algo.ema_teacher is None
    data = algo.data_preprocessor(_raw_batch(), True)
    losses = algo.loss(data['inputs'], data['data_samples'])
    want = algo.distiller.distill_losses['loss_sd_mse'](
        algo.distiller.student_output(), algo.distiller.teacher_output())
    torch.testing.assert_close(losses['distill.loss_sd_mse'], want)


def test_bad_ema_settings_are_one_line():
    with pytest.raises(ValueError, match=r'momentum must lie in \(0, 1\]'):
        _build(ema=dict(momentum=0.0))
    with pytest.raises(ValueError, match='needs the axial branch and its '
                       'consistency loss'):
        _build(mse=None, teacher_ce=dict(type='DecodeHeadLoss'))
