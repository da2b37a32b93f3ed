# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial self-distillation whose block also reads the decoder features
(``axial_input='features'``)."""
import pytest
import torch
from mmengine.optim import OptimWrapper
from mmrazor.registry import MODELS

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.engine.runner import axial_teacher_output
from mmseg_attnkd.models.attention import AxialAttention2d
from mmseg_attnkd.testing import seg_batch, tiny_deeplabv3plus_cfg, \
    tiny_fcn_cfg
from mmseg_attnkd.utils.export.axial import export_axial_refine

NUM_CLASSES = 4
AXIAL = dict(channels=8, num_heads=2, span=16)


def _build(axial_input='features', **kwargs):
    torch.manual_seed(0)
    return MODELS.build(dict(
        _scope_='mmrazor', type='SegSelfDistill',
        architecture=tiny_fcn_cfg(8, NUM_CLASSES),
        distiller=dict(type='AxialSelfDistiller', axial=AXIAL,
                       axial_input=axial_input), **kwargs)).train()


def _step(algo, optim, seed):
    inputs, samples = seg_batch(algo, NUM_CLASSES, 2, 32, seed)
    losses = algo(inputs, samples, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    optim.update_params(total)
    return losses


def test_context_block_is_residual_on_the_logits_and_checks_its_input():
    torch.manual_seed(0)
    block = AxialAttention2d(4, channels=8, num_heads=2, span=16,
                             context_channels=6)
    logits, feats = torch.randn(2, 4, 8, 10), torch.randn(2, 6, 8, 10)
    assert block.embed.in_channels == 10  # logits and context together
    assert torch.equal(block(logits, feats), logits)  # zero-init proj
    torch.nn.init.normal_(block.proj.weight)
    feats.requires_grad_(True)
    out = block(logits, feats)
    assert out.shape == logits.shape
    out.square().sum().backward()
    assert feats.grad.abs().sum() > 0  # the context shapes the output
    with pytest.raises(ValueError, match='needs a context of shape'):
        block(logits)
    with pytest.raises(ValueError, match=r'\(N, 6, 8, 10\)'):
        block(logits, torch.randn(2, 6, 4, 5))
    with pytest.raises(ValueError, match='context_channels=0'):
        AxialAttention2d(4, channels=8, num_heads=2)(logits, feats)


def test_features_branch_records_conv_seg_input_and_starts_at_the_student():
    algo = _build()
    dist = algo.distiller
    conv_seg = algo.architecture.decode_head.conv_seg
    assert dist.connectors['axial'].axial.context_channels == \
        conv_seg.in_channels
    inputs, samples = seg_batch(algo, NUM_CLASSES, 2, 32, 0)
    losses = algo(inputs, samples, mode='loss')
    assert {'distill.loss_teacher_ce', 'distill.loss_sd_mse'} <= set(losses)
    feats, logits = dist.get_record('features_logits', True)
    assert feats.shape[1] == conv_seg.in_channels
    assert torch.equal(logits, dist.student_output())
    # zero-initialised correction: the teacher output is the student's
    assert torch.equal(dist.teacher_output(), dist.student_output())
    assert losses['distill.loss_sd_mse'].item() == pytest.approx(0, abs=1e-7)


def test_features_branch_trains_and_its_embedding_learns_from_features():
    algo = _build()
    optim = OptimWrapper(torch.optim.SGD(
        [p for p in algo.parameters() if p.requires_grad], lr=0.05,
        momentum=0.9))
    embed = algo.distiller.connectors['axial'].axial.embed
    start = embed.weight.detach().clone()
    first = _step(algo, optim, seed=0)['distill.loss_teacher_ce'].item()
    for _ in range(14):
        last = _step(algo, optim, seed=0)['distill.loss_teacher_ce'].item()
    assert last < first - 0.01  # one batch, repeated: the loss falls
    moved = (embed.weight.detach() - start).abs().sum(dim=(0, 2, 3))
    # embed columns [C:] read the decoder features, and they trained
    assert moved[NUM_CLASSES:].sum() > 0
    assert not torch.equal(algo.distiller.teacher_output(),
                           algo.distiller.student_output())


def test_teacher_output_prediction_feeds_the_block_the_features():
    algo = _build()
    optim = OptimWrapper(torch.optim.SGD(
        [p for p in algo.parameters() if p.requires_grad], lr=0.05))
    for seed in range(3):
        _step(algo, optim, seed)
    algo.eval()
    inputs, _ = seg_batch(algo, NUM_CLASSES, 2, 32, 5)
    seen = {}
    conv_seg = algo.architecture.decode_head.conv_seg
    handle = conv_seg.register_forward_hook(
        lambda m, i, o: seen.update(feats=i[0], logits=o))
    with torch.no_grad():
        student = algo.architecture(inputs, None, 'tensor')
        with axial_teacher_output(algo) as active:
            teacher = algo.architecture(inputs, None, 'tensor')
        want = algo.distiller.connectors['axial'](
            (seen['feats'], seen['logits']))
    handle.remove()
    assert active
    assert not torch.allclose(teacher, student)
    torch.testing.assert_close(teacher, want)


def test_attnfd_axial_distiller_takes_the_features_input():
    torch.manual_seed(0)
    algo = MODELS.build(dict(
        type='mmrazor.SegSingleTeacherDistill',
        architecture=tiny_deeplabv3plus_cfg(8, NUM_CLASSES),
        teacher=tiny_deeplabv3plus_cfg(16, NUM_CLASSES),
        distiller=dict(type='AttnFDAxialDistiller', axial=AXIAL,
                       teacher_attention='random', axial_input='features')))
    inputs, samples = seg_batch(algo, NUM_CLASSES, 2, 64, 0)
    losses = algo(inputs, samples, mode='loss')
    assert torch.isfinite(losses['distill.loss_teacher_ce'])
    assert algo.distiller.connectors['axial'].axial.context_channels == \
        algo.student.decode_head.conv_seg.in_channels


def test_bad_settings_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="axial_input must be one of"):
        _build(axial_input='feats')
    with pytest.raises(ValueError, match="set axial_input='features'"):
        MODELS.build(dict(type='mmrazor.AxialSelfDistiller',
                          axial=dict(AXIAL, context_channels=8)))
    with pytest.raises(ValueError, match="ema_teacher supports"):
        _build(ema_teacher=dict(momentum=0.1))


@pytest.mark.parametrize('stride', [1, 2])
def test_export_to_axial_refine_head_gives_the_teacher_output(tmp_path,
                                                              stride):
    from mmengine.config import Config
    from mmseg.registry import MODELS as SEG_MODELS
    axial = dict(AXIAL, stride=stride)
    cfg = Config(dict(model=dict(
        _scope_='mmrazor', type='SegSelfDistill',
        architecture=tiny_fcn_cfg(8, NUM_CLASSES),
        distiller=dict(type='AxialSelfDistiller', axial=axial,
                       axial_input='features'))))
    torch.manual_seed(0)
    algo = MODELS.build(cfg.model).train()
    optim = OptimWrapper(torch.optim.SGD(
        [p for p in algo.parameters() if p.requires_grad], lr=0.05))
    for seed in range(3):  # a trained block: not the identity any more
        _step(algo, optim, seed)
    ckpt, cfg_path = export_axial_refine(
        cfg, dict(state_dict=algo.state_dict()), str(tmp_path / 'out.pth'))
    model_cfg = Config.fromfile(cfg_path).model
    head_cfg = model_cfg.decode_head
    assert head_cfg.type == 'AxialRefineHead'
    conv_seg = algo.architecture.decode_head.conv_seg
    assert head_cfg.axial.context_channels == conv_seg.in_channels
    assert head_cfg.axial.in_channels == NUM_CLASSES
    refine = SEG_MODELS.build(model_cfg)
    refine.load_state_dict(
        torch.load(ckpt, weights_only=True)['state_dict'], strict=True)
    algo.eval(), refine.eval()
    inputs, _ = seg_batch(algo, NUM_CLASSES, 2, 32, 7)
    with torch.no_grad():
        student = algo.architecture(inputs, None, 'tensor')
        with axial_teacher_output(algo):
            teacher = algo.architecture(inputs, None, 'tensor')
        exported = refine(inputs, mode='tensor')
    assert not torch.allclose(teacher, student)
    assert torch.equal(exported, teacher)
    assert refine.decode_head._context is None  # no tensor kept


def test_refine_head_refuses_a_context_of_another_width():
    from mmseg.registry import MODELS as SEG_MODELS
    head = tiny_fcn_cfg(8, NUM_CLASSES)['decode_head']
    with pytest.raises(ValueError, match='context_channels=3'):
        SEG_MODELS.build(dict(type='AxialRefineHead', base_head=head,
                              axial=dict(AXIAL, context_channels=3)))
