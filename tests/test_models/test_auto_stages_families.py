# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""``stages='auto'`` on a backbone whose output depends on the mode
(PIDNet: a tuple in training, one tensor in eval)."""
import pytest
import torch
from mmengine.structures import PixelData
from mmrazor.registry import MODELS
from mmseg.registry import MODELS as SEG_MODELS

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.distillers import (auto_stages, make_side,
                                            probe_channels, producing_module)
from mmseg_attnkd.testing import seg_batch, tiny_fcn_cfg, tiny_pidnet_cfg

NUM_CLASSES = 4


def _with_edges(samples):
    for s in samples:
        label = s.gt_sem_seg.data
        edge = torch.zeros_like(label)
        edge[:, 1:] = (label[:, 1:] != label[:, :-1]).to(label.dtype)
        s.gt_edge_map = PixelData(data=edge)
    return samples


def test_mode_dependent_backbone_is_recorded_at_the_module_making_it():
    model = SEG_MODELS.build(tiny_pidnet_cfg())
    assert producing_module(model, 'backbone') == 'backbone.dfm'
    assert model.training  # the probe restores the mode
    # a multi-scale backbone returns a tuple: no single producing module
    resnet = SEG_MODELS.build(tiny_fcn_cfg(4, NUM_CLASSES))
    assert producing_module(resnet, 'backbone') is None


def test_attnfd_auto_trains_pidnet_from_a_resnet_teacher():
    teacher = tiny_fcn_cfg(8, NUM_CLASSES, crop_size=(64, 64))
    algo = MODELS.build(dict(
        _scope_='mmrazor', type='SegSingleTeacherDistill',
        architecture=tiny_pidnet_cfg(), teacher=teacher,
        distiller=dict(type='AttnFDDistiller', stages='auto',
                       teacher_attention='random')))
    names = [s['student']['name'] for s in algo.distiller.stages]
    assert names == ['backbone.dfm', 'decode_head.conv_seg']
    algo.train()
    inputs, samples = seg_batch(algo, NUM_CLASSES, batch_size=2, size=64)
    losses = algo(inputs, _with_edges(samples), mode='loss')
    attnfd = [v for k, v in losses.items() if k.startswith('distill.')]
    assert len(attnfd) == 2 and all(torch.isfinite(v) for v in attnfd)
    sum(attnfd).backward()
    grads = [p.grad for p in algo.architecture.backbone.dfm.parameters()]
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


def test_auto_side_error_names_no_option_the_user_did_not_write():
    model = SEG_MODELS.build(tiny_pidnet_cfg())
    side = dict(make_side('backbone', data_idx=-1), auto=True)
    with pytest.raises(ValueError) as info:
        probe_channels(model, [side], 'student')
    message = str(info.value)
    assert "stages='auto' cannot use it" in message
    assert 'data_idx' not in message and '\n' not in message
    # a hand-written stage still gets the option to change
    with pytest.raises(ValueError, match='remove student_data_idx'):
        probe_channels(model, [make_side('backbone', data_idx=-1)],
                       'student')


def test_auto_stages_mark_their_sides():
    student = SEG_MODELS.build(tiny_pidnet_cfg())
    teacher = SEG_MODELS.build(tiny_fcn_cfg(8, NUM_CLASSES))
    stages = auto_stages(student, teacher)
    assert all(s[w]['auto'] for s in stages for w in ('student', 'teacher'))
