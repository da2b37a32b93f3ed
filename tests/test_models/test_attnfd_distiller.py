# Copyright (c) mmseg-attnkd contributors. All rights reserved.
import copy

import pytest
import torch

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.connectors import (CBAMConnector,
                                            TeacherCBAMConnector)
from mmseg_attnkd.models.distillers import AttnFDDistiller
from mmseg_attnkd.testing import (seg_batch, tiny_deeplabv3plus_cfg,
                                  tiny_fcn_cfg, tiny_pspnet_cfg)
from mmseg_attnkd.utils import extract_student_state_dict

NUM_CLASSES = 4


def build_algorithm(student=None, teacher=None, **distiller):
    from mmrazor.registry import MODELS
    cfg = dict(
        type='mmrazor.SingleTeacherDistill',
        architecture=student or tiny_deeplabv3plus_cfg(8, NUM_CLASSES),
        teacher=teacher or tiny_deeplabv3plus_cfg(16, NUM_CLASSES),
        # tiny teachers have no fitted file: a seeded random attention
        distiller=dict(dict(type='AttnFDDistiller',
                            teacher_attention='random'), **distiller))
    torch.manual_seed(0)
    return MODELS.build(cfg)


def make_batch(algo, batch_size=2, size=64, seed=0, training=True):
    return seg_batch(algo, NUM_CLASSES, batch_size, size, seed, training)


def test_auto_stages_deeplabv3plus_names_and_channels():
    algo = build_algorithm()
    d = algo.distiller
    assert isinstance(d, AttnFDDistiller) and d.is_built
    names = [(s['student']['name'], s['teacher']['name']) for s in d.stages]
    assert names == [('backbone.layer4', 'backbone.layer4'),
                     ('decode_head.bottleneck', 'decode_head.bottleneck'),
                     ('decode_head.sep_bottleneck',
                      'decode_head.sep_bottleneck')]
    # width 8 student / width 16 teacher: layer4 = 8 * width, heads 2 * width
    assert [s['student_channels'] for s in d.stages] == [64, 16, 16]
    assert [s['teacher_channels'] for s in d.stages] == [128, 32, 32]
    assert sorted(d.distill_losses) == [
        'loss_attnfd_0', 'loss_attnfd_1', 'loss_attnfd_2'
    ]
    conn = d.connectors['attnfd_0_student']
    assert isinstance(conn, CBAMConnector)
    assert conn.align[0].in_channels == 64
    assert conn.align[0].out_channels == 128
    assert isinstance(d.connectors['attnfd_0_teacher'], TeacherCBAMConnector)
    # the probe forward left the training flags alone
    assert algo.architecture.training


@pytest.mark.parametrize('student,teacher,expected', [
    (tiny_pspnet_cfg(8), tiny_pspnet_cfg(16),
     [('backbone.layer4', 'backbone.layer4', 'outputs'),
      ('decode_head.bottleneck', 'decode_head.bottleneck', 'outputs')]),
    (tiny_fcn_cfg(8), tiny_fcn_cfg(16),
     [('backbone.layer4', 'backbone.layer4', 'outputs'),
      ('decode_head.conv_seg', 'decode_head.conv_seg', 'inputs')]),
    # different head families: backbone + pre-classifier features
    (tiny_fcn_cfg(8), tiny_deeplabv3plus_cfg(16),
     [('backbone.layer4', 'backbone.layer4', 'outputs'),
      ('decode_head.conv_seg', 'decode_head.sep_bottleneck', 'inputs')]),
])
def test_auto_stages_other_heads(student, teacher, expected):
    algo = build_algorithm(student, teacher)
    got = [(s['student']['name'], s['teacher']['name'], s['student']['record'])
           for s in algo.distiller.stages]
    assert got == expected
    algo.train()
    inputs, samples = make_batch(algo, batch_size=2, size=32)
    losses = algo(inputs, samples, mode='loss')
    for i in range(len(expected)):
        assert losses[f'distill.loss_attnfd_{i}'].item() > 0


def test_loss_keys_and_gradients():
    algo = build_algorithm()
    algo.train()
    inputs, samples = make_batch(algo)
    losses = algo(inputs, samples, mode='loss')
    for i in range(3):
        assert f'distill.loss_attnfd_{i}' in losses
        assert losses[f'distill.loss_attnfd_{i}'].requires_grad
    assert 'student.decode.loss_ce' in losses
    distill = sum(v for k, v in losses.items() if k.startswith('distill.'))
    distill.backward()
    d = algo.distiller
    # the student backbone and every student-side connector param get grads
    grad = algo.architecture.backbone.layer4[0].conv1.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    for i in range(3):
        conn = d.connectors[f'attnfd_{i}_student']
        for name, p in conn.named_parameters():
            assert p.requires_grad, name
            assert p.grad is not None and p.grad.abs().sum() > 0, \
                f'stage {i}: {name}'
        # the channel MLP is trained (the public code forgot it)
        assert conn.cbam.channel_mlp[0].weight.grad.abs().sum() > 0
        teacher_conn = d.connectors[f'attnfd_{i}_teacher']
        for name, p in teacher_conn.named_parameters():
            assert not p.requires_grad and p.grad is None, name
    for name, p in algo.teacher.named_parameters():
        assert not p.requires_grad and p.grad is None, name


@pytest.mark.parametrize('normalize', ['channel', 'tensor'])
def test_distill_loss_falls_on_a_fixed_batch(normalize):
    algo = build_algorithm(normalize=normalize)
    algo.train()
    inputs, samples = make_batch(algo, seed=1)
    params = list(algo.architecture.parameters()) + [
        p for p in algo.distiller.parameters() if p.requires_grad
    ]
    optim = torch.optim.Adam(params, lr=1e-2)
    teacher_attn = copy.deepcopy(algo.distiller.teacher_attention_state_dict())
    history = []
    for _ in range(20):
        losses = algo(inputs, samples, mode='loss')
        distill = sum(v for k, v in losses.items() if k.startswith('distill.'))
        optim.zero_grad()
        distill.backward()
        optim.step()
        history.append(distill.item())
    assert history[-1] < 0.8 * history[0], history
    # teacher-side attention did not move
    for key, value in algo.distiller.teacher_attention_state_dict().items():
        torch.testing.assert_close(value, teacher_attn[key])


def test_parameter_free_teacher_attention_has_no_params():
    algo = build_algorithm(teacher_attention='parameter_free')
    for i in range(3):
        conn = algo.distiller.connectors[f'attnfd_{i}_teacher']
        assert conn.cbam.parameter_free
        assert sum(p.numel() for p in conn.parameters()) == 0


def test_frozen_teacher_attention_seeded_without_touching_global_rng():
    a = TeacherCBAMConnector(32, seed=3)
    b = TeacherCBAMConnector(32, seed=3)
    c = TeacherCBAMConnector(32, seed=4)
    for (k, va), vb, vc in zip(a.state_dict().items(),
                               b.state_dict().values(),
                               c.state_dict().values()):
        torch.testing.assert_close(va, vb)
        assert not torch.equal(va, vc), k
    torch.manual_seed(123)
    ref = torch.rand(3)
    torch.manual_seed(123)
    TeacherCBAMConnector(32, seed=7)
    torch.testing.assert_close(torch.rand(3), ref)
    # init_weights (called by the runner) keeps the seeded weights
    before = copy.deepcopy(a.state_dict())
    a.init_weights()
    for k, v in a.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_runner_init_weights_keeps_teacher_attention():
    algo = build_algorithm()
    before = algo.distiller.teacher_attention_state_dict()
    algo.init_weights()
    after = algo.distiller.teacher_attention_state_dict()
    for k, v in before.items():
        torch.testing.assert_close(after[k], v)


def test_teacher_attention_ckpt_roundtrip(tmp_path):
    src = build_algorithm(teacher_attention_seed=11)
    path = tmp_path / 'teacher_attn.pth'
    # a full algorithm checkpoint (prefixed keys) works as is
    torch.save(dict(state_dict=src.state_dict()), path)
    dst = build_algorithm(teacher_attention_seed=0,
                          teacher_attention='fitted',
                          teacher_attention_ckpt=str(path))
    want = src.distiller.teacher_attention_state_dict()
    got = dst.distiller.teacher_attention_state_dict()
    assert want.keys() == got.keys()
    for k in want:
        torch.testing.assert_close(got[k], want[k])
    for p in dst.distiller.connectors['attnfd_0_teacher'].parameters():
        assert not p.requires_grad
    # a file without teacher attention weights
    torch.save(dict(state_dict=dict(foo=torch.zeros(1))), path)
    with pytest.raises(KeyError, match='attnfd_0_teacher'):
        build_algorithm(teacher_attention='fitted',
                        teacher_attention_ckpt=str(path))
    # shapes of another teacher
    torch.save(src.distiller.teacher_attention_state_dict(), path)
    with pytest.raises(ValueError, match='does not fit'):
        build_algorithm(teacher=tiny_deeplabv3plus_cfg(24),
                        teacher_attention='fitted',
                        teacher_attention_ckpt=str(path))


def test_explicit_stages_and_clear_errors():
    algo = build_algorithm(stages=[
        ('backbone.layer4', 'backbone.layer4'),
        dict(student='decode_head.conv_seg', teacher='decode_head.conv_seg',
             record='inputs'),
    ])
    assert [s['teacher_channels'] for s in algo.distiller.stages] == [128, 32]
    with pytest.raises(ValueError, match=r"backbone\.layer4"):
        build_algorithm(stages=[('backbone.layer5', 'backbone.layer4')])
    with pytest.raises(ValueError, match='align=True'):
        build_algorithm(align=False)
    with pytest.raises(ValueError, match='data_idx'):
        build_algorithm(stages=['backbone'])
    with pytest.raises(ValueError, match='ConfigurableDistiller'):
        build_algorithm(connectors=dict())
    with pytest.raises(ValueError, match='teacher_attention'):
        build_algorithm(teacher_attention='learned')
    with pytest.raises(ValueError, match='odd'):
        build_algorithm(kernel_size=6)


def test_align_false_with_equal_channels_and_backbone_tuple():
    algo = build_algorithm(
        teacher=tiny_deeplabv3plus_cfg(8, NUM_CLASSES),
        align=False,
        stages=[dict(student='backbone', teacher='backbone', data_idx=3)])
    conn = algo.distiller.connectors['attnfd_0_student']
    assert conn.align is None
    algo.train()
    inputs, samples = make_batch(algo, batch_size=2, size=32)
    assert algo(inputs, samples, mode='loss')['distill.loss_attnfd_0'] > 0


def test_student_exports_to_plain_mmseg():
    from mmseg.registry import MODELS as SEG_MODELS
    algo = build_algorithm()
    state = extract_student_state_dict(dict(state_dict=algo.state_dict()))
    plain = SEG_MODELS.build(tiny_deeplabv3plus_cfg(8, NUM_CLASSES))
    plain.load_state_dict(state, strict=True)
    plain.eval()
    algo.eval()
    inputs, samples = make_batch(algo, batch_size=1, training=False)
    with torch.no_grad():
        torch.testing.assert_close(
            plain(inputs, mode='tensor'),
            algo.architecture(inputs, mode='tensor'))
