# Copyright (c) mmseg-attnkd contributors. All rights reserved.
import re

import pytest
import torch
import torch.nn.functional as F
from mmrazor.registry import MODELS

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.distillers import AttnFDAxialDistiller
from mmseg_attnkd.testing import (loss_step, seg_batch,
                                  tiny_deeplabv3plus_cfg, tiny_fcn_cfg)
from mmseg_attnkd.utils.export.axial import convert_axial_state_dict

NUM_CLASSES = 4
AXIAL = dict(channels=8, num_heads=2, span=16)


def make_batch(algo, batch_size=2, size=64, seed=0):
    return seg_batch(algo, NUM_CLASSES, batch_size, size, seed)


def _build(student=None, **distiller):
    torch.manual_seed(0)
    return MODELS.build(
        dict(type='mmrazor.SegSingleTeacherDistill',
             architecture=student or tiny_deeplabv3plus_cfg(8, NUM_CLASSES),
             teacher=tiny_deeplabv3plus_cfg(16, NUM_CLASSES),
             distiller=dict(dict(type='AttnFDAxialDistiller', axial=AXIAL,
                                 teacher_attention='random'), **distiller)))


def test_losses_of_both_methods_and_axial_records_from_the_student():
    algo = _build()
    inputs, samples = make_batch(algo)
    losses = algo(inputs, samples, mode='loss')
    names = sorted(k for k in losses if k.startswith('distill.'))
    assert names == [
        'distill.loss_attnfd_0', 'distill.loss_attnfd_1',
        'distill.loss_attnfd_2', 'distill.loss_sd_mse',
        'distill.loss_teacher_ce'
    ]
    dist = algo.distiller
    assert isinstance(dist, AttnFDAxialDistiller)
    # the axial logits are the student's conv_seg output, not the teacher's
    student_logits = dist.student_output()
    assert student_logits.shape == (2, NUM_CLASSES, 16, 16)
    with torch.no_grad():
        feats = algo.student.extract_feat(inputs)
        ref = algo.student.decode_head(feats)
    algo.student.train()
    assert student_logits.shape == ref.shape
    # zero-initialised residual: self-teacher output == student output at init
    assert torch.equal(dist.teacher_output(), student_logits)
    # at init teacher == student, so the MSE is 0 and the CE equals the
    # student's own decode loss on the same logits
    assert losses['distill.loss_sd_mse'].item() == pytest.approx(0, abs=1e-7)
    assert losses['distill.loss_teacher_ce'].item() == pytest.approx(
        losses['student.decode.loss_ce'].item(), rel=1e-5)


def test_axial_block_gets_gradients_and_teacher_stays_fixed():
    algo = _build()
    inputs, samples = make_batch(algo)
    losses = algo(inputs, samples, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    axial = algo.distiller.connectors['axial']
    grads = [p.grad for p in axial.parameters() if p.requires_grad]
    assert grads and any(g is not None and g.abs().sum() > 0 for g in grads)
    cbam = algo.distiller.connectors['attnfd_0_student']
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in cbam.parameters())
    assert all(p.grad is None for p in algo.teacher.parameters())


def test_connector_runs_once_and_loss_falls():
    algo = _build(student=tiny_fcn_cfg(8, NUM_CLASSES))
    calls = []
    algo.distiller.connectors['axial'].register_forward_hook(
        lambda *a: calls.append(1))
    inputs, samples = make_batch(algo, size=32)
    opt = torch.optim.Adam(
        [p for p in algo.parameters() if p.requires_grad], lr=1e-2)
    first = last = None
    for _ in range(15):
        total, _ = loss_step(algo, inputs, samples, opt)
        first = first if first is not None else total.item()
        last = total.item()
    assert len(calls) == 15
    assert last < 0.7 * first


def test_export_keys_and_teacher_output_shape():
    algo = _build()
    state = algo.state_dict()
    out = convert_axial_state_dict(state)
    assert any(k.startswith('decode_head.axial.') for k in out)
    assert not any(k.startswith('teacher.') for k in out)
    assert 'decode_head.base_head.conv_seg.weight' in out
    # the refined logits keep the student's shape
    logits = torch.randn(2, NUM_CLASSES, 8, 8)
    refined = algo.distiller.connectors['axial'](logits)
    assert refined.shape == logits.shape
    assert F.mse_loss(refined, logits).item() == 0  # zero-init residual


@pytest.mark.parametrize('bad, message', [
    (dict(teacher_ce=None), 'AttnFDAxialDistiller needs teacher_ce'),
    (dict(axial=dict(AXIAL, in_channels=7)),
     'axial.in_channels=7 but decode_head.conv_seg outputs 4 channels'),
    (dict(head='decode_head.nope'),
     'EncoderDecoder has no module "decode_head.nope". Closest names'),
])
def test_bad_settings_fail_at_build(bad, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        _build(**bad)


def test_export_gives_the_self_teacher_output(tmp_path):
    """The exported AxialRefineHead model reproduces the training-time
    self-teacher logits of the combined distiller."""
    from mmengine.config import Config
    from mmseg.registry import MODELS as SEG_MODELS

    from mmseg_attnkd.utils.export.axial import export_axial_refine
    algo = _build()
    # a non-zero residual so the refined output differs from the student's
    with torch.no_grad():
        for p in algo.distiller.connectors['axial'].parameters():
            p.add_(0.05 * torch.randn_like(p))
    algo.eval()
    model_cfg = dict(
        _scope_='mmrazor', type='SegSingleTeacherDistill',
        architecture=tiny_deeplabv3plus_cfg(8, NUM_CLASSES),
        teacher=tiny_deeplabv3plus_cfg(16, NUM_CLASSES),
        distiller=dict(type='AttnFDAxialDistiller', axial=AXIAL,
                       teacher_attention='random'))
    cfg = Config(dict(model=model_cfg, default_scope='mmseg'))
    ckpt, _ = export_axial_refine(cfg, dict(state_dict=algo.state_dict()),
                                  str(tmp_path / 'teacher_output.pth'))
    exported_cfg = Config.fromfile(str(tmp_path / 'teacher_output.py'))
    model = SEG_MODELS.build(exported_cfg.model)
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    model.load_state_dict(state['state_dict'])
    model.eval()
    inputs, _ = make_batch(algo)
    with torch.no_grad():
        exported = model._forward(inputs)
        logits = algo.student.decode_head(algo.student.extract_feat(inputs))
        refined = algo.distiller.connectors['axial'](logits)
    assert not torch.allclose(refined, logits)
    torch.testing.assert_close(exported, refined)
