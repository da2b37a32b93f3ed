# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""tools/analysis/kd_inspect.py: tap table, suggested stages, name errors."""
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmseg_attnkd.analysis import ModuleNotFound, get_module
from mmseg_attnkd.models.distillers.attnfd_distiller import AttnFDDistiller
from mmseg_attnkd.testing import tiny_deeplabv3plus_cfg, tiny_pspnet_cfg
from mmseg_attnkd.utils import build_segmentor

from _tools_helpers import load_tool


@pytest.fixture(scope='module')
def inspect_tool():
    return load_tool('analysis/kd_inspect.py')


def _write(tmp_path, name, model):
    path = str(tmp_path / f'{name}.py')
    Config(dict(model=model)).dump(path)
    return path


def test_distill_config_table_and_snippet_build(cwd_run, inspect_tool,
                                                capsys):
    res = inspect_tool.main([cwd_run['cfg'], '--shape', '64', '64'])
    out = capsys.readouterr().out
    teacher = build_segmentor(tiny_deeplabv3plus_cfg(16, 4))
    student = build_segmentor(tiny_deeplabv3plus_cfg(8, 4))
    rows = {r.name: r for r in res['rows']}
    # ResNet stages: channels 8*2^i (student) vs 16*2^i (teacher), /4 then /8
    assert rows['backbone.layer1'].student == (1, 8, 16, 16)
    assert rows['backbone.layer1'].teacher == (1, 16, 16, 16)
    assert rows['backbone.layer4'].student == (1, 64, 8, 8)
    assert rows['decode_head.conv_seg:input'].teacher == (1, 32, 16, 16)
    assert 'decode_head.loss_decode' not in rows
    # every suggested module exists on its side
    assert [s['label'] for s in res['stages']] == ['backbone', 'context',
                                                   'decoder']
    for stage in res['stages']:
        get_module(student, stage['student'])
        get_module(teacher, stage['teacher'])
    # the printed snippet is a valid config that AttnFDDistiller accepts,
    # and the channels it resolves are the ones the table shows
    snippet = out[out.index('model = dict('):]
    scope = {}
    exec(snippet, scope)
    stages = scope['model']['distiller']['stages']
    assert scope['model']['distiller']['teacher_attention'] == 'fitted'
    assert 'teacher_attention_ckpt' not in scope['model']['distiller']
    with DefaultScope.overwrite_default_scope('mmrazor'):
        # no fitted file for this teacher: a seeded random attention
        distiller = AttnFDDistiller(stages=stages, teacher_attention='random')
        distiller.prepare_from_student(student)
        distiller.prepare_from_teacher(teacher)
    for built, suggested in zip(distiller.stages, res['stages']):
        assert built['student_channels'] == suggested['student_shape'][1]
        assert built['teacher_channels'] == suggested['teacher_shape'][1]
    assert '<- suggested' in out


def test_two_configs_different_heads(tmp_path, inspect_tool):
    teacher = _write(tmp_path, 't', tiny_deeplabv3plus_cfg(16, 4))
    student = _write(tmp_path, 's', tiny_pspnet_cfg(8, 4))
    res = inspect_tool.main([teacher, student, '--shape', '64'])
    rows = {r.name: r for r in res['rows']}
    # a PSPNet-only module is listed with no teacher shape
    assert rows['decode_head.psp_modules'].teacher is None
    assert rows['decode_head.psp_modules'].student is not None
    # mixed head families: backbone + pre-classifier feature
    assert [s['label'] for s in res['stages']] == ['backbone', 'decoder']


def test_unknown_module_lists_closest_names(cwd_run, inspect_tool):
    with pytest.raises(ModuleNotFound) as err:
        inspect_tool.main([cwd_run['cfg'], '--shape', '64',
                           '--module', 'backbone.layer5'])
    msg = str(err.value)
    assert "'backbone.layer5' does not exist" in msg
    assert 'backbone.layer4' in msg
    with pytest.raises(ModuleNotFound, match='decode_head.sep_bottleneck'):
        inspect_tool.main([cwd_run['cfg'], '--shape', '64',
                           '--module', 'decode_head.sep_botleneck'])


def test_plain_config_alone_is_rejected(tmp_path, inspect_tool):
    path = _write(tmp_path, 'plain', tiny_deeplabv3plus_cfg(8, 4))
    with pytest.raises(ValueError, match='not a distillation config'):
        inspect_tool.main([path])
