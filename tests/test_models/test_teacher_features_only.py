# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The frozen teacher runs features only, with unchanged distillation."""
import pytest
import torch

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.testing import seg_batch, tiny_deeplabv3plus_cfg


def _logit_kd(source='decode_head.conv_seg'):
    rec = dict(l=dict(type='ModuleOutputs', source=source))
    return dict(
        type='ConfigurableDistiller',
        student_recorders=rec,
        teacher_recorders=rec,
        distill_losses=dict(loss_kd=dict(type='KLDivergence')),
        loss_forward_mappings=dict(loss_kd=dict(
            preds_S=dict(from_student=True, recorder='l'),
            preds_T=dict(from_student=False, recorder='l'))))


def _build(distiller, flag=True):
    from mmrazor.registry import MODELS
    torch.manual_seed(0)
    algo = MODELS.build(dict(
        _scope_='mmrazor',
        type='SegSingleTeacherDistill',
        architecture=tiny_deeplabv3plus_cfg(8, 4, with_aux=True),
        teacher=tiny_deeplabv3plus_cfg(16, 4, with_aux=True),
        distiller=distiller, teacher_features_only=flag))
    return algo.train()


@pytest.mark.parametrize('distiller', [dict(type='AttnFDDistiller',
                                            teacher_attention='random'),
                                       _logit_kd()])
def test_same_losses_without_the_teachers_aux_head_and_loss(distiller):
    fast, full = _build(distiller, True), _build(distiller, False)
    assert fast.teacher_features_only and not full.teacher_features_only
    calls = []
    fast.teacher.auxiliary_head.register_forward_hook(
        lambda *a: calls.append('aux'))
    inputs, samples = seg_batch(fast, 4, 2, 64, 0, True)
    got, want = fast.loss(inputs, samples), full.loss(inputs, samples)
    assert got.keys() == want.keys()
    for key in want:
        torch.testing.assert_close(got[key], want[key])
    assert calls == []  # the teacher's auxiliary head never ran
    assert 'forward' not in vars(fast.teacher)  # the patch is undone


def test_records_of_the_aux_head_keep_the_full_teacher_pass():
    algo = _build(_logit_kd('auxiliary_head.conv_seg'))
    assert not algo.teacher_features_only
    inputs, samples = seg_batch(algo, 4, 2, 64, 0, True)
    assert 'distill.loss_kd' in algo.loss(inputs, samples)
