# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""tools/analysis/get_flops.py: params/FLOPs with mmengine.analysis."""
import json

import pytest
import torch.nn as nn

from mmseg_attnkd.analysis import segmentor_complexity
from mmseg_attnkd.models.attention import AxialAttention2d
from mmseg_attnkd.testing import tiny_fcn_cfg
from mmseg_attnkd.utils import build_segmentor

from _tools_helpers import load_tool


@pytest.fixture(scope='module')
def flops_tool():
    return load_tool('analysis/get_flops.py')


def _n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_teacher_student_and_axial(cwd_run, axial_run, flops_tool,
                                   tmp_path, capsys):
    out_json = str(tmp_path / 'flops.json')
    res = flops_tool.main([cwd_run['cfg'], '--shape', '64', '64',
                           '--with-axial', '--json', out_json])
    teacher, student = res['teacher'], res['student']
    axial = res['student + axial']
    assert 0 < student['flops'] < teacher['flops']
    assert 0 < student['params'] < teacher['params']
    # width x2 in every conv: roughly 4x the FLOPs and parameters
    assert 3.0 < teacher['flops'] / student['flops'] < 4.5
    assert 3.0 < teacher['params'] / student['params'] < 4.5
    assert axial['flops'] > student['flops']
    # the axial head adds exactly an AxialAttention2d on the 4 logits
    assert axial['params'] - student['params'] == _n_params(
        AxialAttention2d(4))
    assert json.load(open(out_json))['teacher']['flops'] == teacher['flops']
    printed = capsys.readouterr().out
    assert 'student + axial' in printed and '100.0%' in printed

    # --axial-config takes the block settings of the axial-SD config
    res = flops_tool.main([axial_run['cfg'], '--shape', '64', '64',
                           '--axial-config', axial_run['cfg']])
    assert set(res) == {'model', 'student + axial'}
    assert res['student + axial']['params'] - res['model']['params'] == \
        _n_params(AxialAttention2d(4, channels=8, num_heads=2, span=16))


def test_conv_flops_are_multiply_adds():
    """One 1x1 conv of known cost, counted as fvcore does (MACs)."""
    model = build_segmentor(tiny_fcn_cfg(8, 4))
    full = segmentor_complexity(model, (64, 64))['flops']
    # removing the classifier's input->logits conv (16 -> 4 channels on a
    # 8x8 map, plus no bias FLOPs) lowers the count by 16*4*8*8
    model.decode_head.conv_seg = nn.Identity()
    model.decode_head.num_classes = 16
    less = segmentor_complexity(model, (64, 64))['flops']
    assert full - less == 16 * 4 * 8 * 8


def test_bad_shape(cwd_run, flops_tool):
    with pytest.raises(ValueError, match='--shape'):
        flops_tool.main([cwd_run['cfg'], '--shape', '1', '2', '3'])
