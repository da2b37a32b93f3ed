# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""AxialSelfDistiller on SelfDistill for the MMSeg decode heads."""
import copy

import pytest
import torch
from mmengine.structures import PixelData
from mmrazor.registry import MODELS
from mmseg.structures import SegDataSample

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.losses import DecodeHeadLoss, SelfDistillMSELoss
from mmseg_attnkd.testing import (loss_step, tiny_deeplabv3_cfg,
                                  tiny_deeplabv3plus_cfg, tiny_fcn_cfg,
                                  tiny_fpn_cfg, tiny_pspnet_cfg,
                                  tiny_unet_fcn_cfg, tiny_upernet_cfg)

NUM_CLASSES = 4
AXIAL = dict(channels=8, num_heads=2, span=16)

ARCHS = {
    'fcn': lambda: tiny_fcn_cfg(4, NUM_CLASSES),
    'pspnet+aux': lambda: tiny_pspnet_cfg(4, NUM_CLASSES, with_aux=True),
    'aspp+aux': lambda: tiny_deeplabv3_cfg(4, NUM_CLASSES, with_aux=True),
    'dsaspp': lambda: tiny_deeplabv3plus_cfg(4, NUM_CLASSES),
    'fpn': lambda: tiny_fpn_cfg(4, NUM_CLASSES),
    'upernet+aux': lambda: tiny_upernet_cfg(4, NUM_CLASSES, with_aux=True),
    'unet-fcn+aux': lambda: tiny_unet_fcn_cfg(4, NUM_CLASSES, with_aux=True),
}


def _batch(n=2, size=32, seed=0, ignore_border=True, learnable=False):
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(n, 3, size, size, generator=g)
    samples = []
    for i in range(n):
        label = torch.randint(0, NUM_CLASSES, (1, size, size), generator=g)
        if learnable:  # smooth blobs whose class is visible in channel 0
            coarse = torch.randint(0, NUM_CLASSES, (1, 1, 4, 4), generator=g)
            label = torch.nn.functional.interpolate(
                coarse.float(), size=(size, size), mode='nearest').long()[0]
            inputs[i, 0] = label[0].float() - 1.5
        if ignore_border:
            label[:, :, 0] = 255
        s = SegDataSample(gt_sem_seg=PixelData(data=label))
        s.set_metainfo(dict(img_shape=(size, size), pad_shape=(size, size),
                            ori_shape=(size, size)))
        samples.append(s)
    return inputs, samples


def _build(arch, **distiller):
    distiller = dict(type='AxialSelfDistiller', **distiller)
    distiller.setdefault('axial', AXIAL)
    return MODELS.build(
        dict(_scope_='mmrazor', type='SelfDistill', architecture=arch,
             distiller=distiller))


@pytest.mark.parametrize('name', list(ARCHS))
def test_every_head_gets_three_losses_and_identity_at_init(name):
    torch.manual_seed(0)
    algo = _build(ARCHS[name]())
    inputs, samples = _batch()
    losses = algo(inputs, samples, mode='loss')
    for key in ('student.decode.loss_ce', 'distill.loss_teacher_ce',
                'distill.loss_sd_mse'):
        assert key in losses, sorted(losses)
    if '+aux' in name:
        assert 'student.aux.loss_ce' in losses  # aux head unchanged
    dist = algo.distiller
    t, s = dist.teacher_output(), dist.student_output()
    assert t.shape == s.shape and s.shape[1] == NUM_CLASSES
    # zero-initialised residual: teacher output == student output
    assert torch.equal(t, s)
    torch.testing.assert_close(losses['distill.loss_teacher_ce'],
                               losses['student.decode.loss_ce'])
    assert losses['distill.loss_sd_mse'].item() == 0.0
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    axial = dist.connectors['axial'].axial
    assert axial.proj.weight.grad.abs().sum() > 0
    head = algo.architecture.decode_head
    assert head.conv_seg.weight.grad.abs().sum() > 0


def test_connector_runs_once_per_step_and_records_shapes():
    algo = _build(tiny_pspnet_cfg(4, NUM_CLASSES))
    calls = []
    algo.distiller.connectors['axial'].register_forward_hook(
        lambda *a: calls.append(1))
    inputs, samples = _batch()
    algo(inputs, samples, mode='loss')
    assert len(calls) == 1
    assert algo.distiller.teacher_output().shape == (2, NUM_CLASSES, 4, 4)


def _head_loss_reference(head, logits, samples):
    ref = head.loss_by_feat(logits, samples)
    return sum(v for k, v in ref.items() if k.startswith('loss'))


@pytest.mark.parametrize('loss_decode', [
    dict(type='CrossEntropyLoss', loss_weight=0.7, avg_non_ignore=True,
         class_weight=[0.5, 1.0, 2.0, 3.0]),
    [dict(type='CrossEntropyLoss', loss_weight=1.0,
          class_weight=[1.0, 0.1, 1.0, 4.0]),
     dict(type='DiceLoss', loss_weight=0.5)],
])
def test_teacher_loss_reuses_head_loss_settings(loss_decode):
    arch = tiny_fcn_cfg(4, NUM_CLASSES)
    arch['decode_head']['loss_decode'] = loss_decode
    arch['decode_head']['ignore_index'] = 2  # a real class is ignored
    algo = _build(arch)
    head = algo.architecture.decode_head
    loss = algo.distiller.distill_losses['loss_teacher_ce']
    assert loss.head is head
    torch.manual_seed(1)
    logits = torch.randn(2, NUM_CLASSES, 8, 8)
    inputs, samples = _batch(ignore_border=False)
    label = torch.stack([s.gt_sem_seg.data for s in samples])
    torch.testing.assert_close(
        loss(logits, label.squeeze(1)),
        _head_loss_reference(head, logits, samples))
    # and the distiller records the labels (also with several losses)
    losses = algo(inputs, samples, mode='loss')
    assert torch.isfinite(losses['distill.loss_teacher_ce'])
    rec = algo.distiller.get_record('labels', True, data_idx=1)
    assert torch.equal(rec, label.squeeze(1))


def test_ignore_index_pixels_do_not_count():
    arch = tiny_fcn_cfg(4, NUM_CLASSES)
    arch['decode_head']['loss_decode']['avg_non_ignore'] = True
    algo = _build(arch)
    loss = algo.distiller.distill_losses['loss_teacher_ce']
    logits = torch.randn(1, NUM_CLASSES, 8, 8)
    label = torch.randint(0, NUM_CLASSES, (1, 8, 8))
    other = label.clone()
    other[:, :4] = 255
    logits2 = logits.clone()
    logits2[:, :, :4] = 100.0 * torch.randn(1, NUM_CLASSES, 4, 8)
    # changing logits only where labels are ignored leaves the loss alone
    torch.testing.assert_close(loss(logits[:, :, 4:], other[:, 4:]),
                               loss(logits2[:, :, 4:], other[:, 4:]))
    a, b = loss(logits, other), loss(logits2, other)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(loss(logits, label), loss(logits2, label))


def test_total_loss_falls_on_a_fixed_batch():
    torch.manual_seed(0)
    algo = _build(tiny_pspnet_cfg(4, NUM_CLASSES, with_aux=True))
    algo.train()
    inputs, samples = _batch(seed=3, learnable=True)
    opt = torch.optim.Adam(algo.parameters(), lr=1e-2)
    totals, parts = [], []
    for _ in range(10):
        total, losses = loss_step(algo, inputs, samples, opt)
        totals.append(total.item())
        parts.append({k: v.item() for k, v in losses.items()})
    assert all(torch.isfinite(torch.tensor(totals)))
    assert totals[-1] < 0.7 * totals[0], totals
    assert parts[-1]['distill.loss_teacher_ce'] < \
        parts[0]['distill.loss_teacher_ce']
    # the teacher has moved away from the student
    assert parts[-1]['distill.loss_sd_mse'] > 0
    assert not torch.equal(algo.distiller.teacher_output(),
                           algo.distiller.student_output())


def test_mse_stop_gradient_on_teacher_side():
    s = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 3, 4, 4, requires_grad=True)
    SelfDistillMSELoss(target='prob')(s, t).backward()
    assert s.grad.abs().sum() > 0 and t.grad is None
    t2 = t.detach().clone().requires_grad_()
    SelfDistillMSELoss(target='logits', detach_teacher=False)(s, t2).backward()
    assert t2.grad.abs().sum() > 0
    expected = ((s.softmax(1) - t.softmax(1))**2).mean()
    torch.testing.assert_close(SelfDistillMSELoss()(s, t), expected)
    with pytest.raises(ValueError, match='target'):
        SelfDistillMSELoss(target='kl')


def test_head_without_conv_seg_names_the_fix():
    with pytest.raises(ValueError, match='conv_seg'):
        _build(tiny_fcn_cfg(4, NUM_CLASSES), head='backbone')
    with pytest.raises(ValueError, match='decode_head'):
        _build(tiny_fcn_cfg(4, NUM_CLASSES), head='decoder')


def test_bad_distiller_settings_raise_early():
    with pytest.raises(ValueError, match='in_channels'):
        _build(tiny_fcn_cfg(4, NUM_CLASSES),
               axial=dict(AXIAL, in_channels=NUM_CLASSES + 1))
    with pytest.raises(ValueError, match='teacher_ce'):
        _build(tiny_fcn_cfg(4, NUM_CLASSES), teacher_ce=None)
    with pytest.raises(RuntimeError, match='bind_head'):
        DecodeHeadLoss()(torch.zeros(1, 2, 4, 4),
                         torch.zeros(1, 4, 4, dtype=torch.long))


def test_detach_input_keeps_teacher_losses_off_the_student():
    arch = tiny_fcn_cfg(4, NUM_CLASSES)
    algo = _build(copy.deepcopy(arch), axial=dict(AXIAL, detach_input=True))
    algo.distiller.connectors['axial'].axial.proj.weight.data.normal_()
    inputs, samples = _batch()
    losses = algo(inputs, samples, mode='loss')
    losses['distill.loss_teacher_ce'].backward()
    head = algo.architecture.decode_head
    assert head.conv_seg.weight.grad is None or \
        head.conv_seg.weight.grad.abs().sum() == 0
    assert algo.distiller.connectors['axial'].axial.embed.weight.grad \
        .abs().sum() > 0
