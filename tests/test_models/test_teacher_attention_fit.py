# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Fitted AttnFD teacher attention: fit, round trip, refusal on mismatch."""
import os
import os.path as osp

import pytest
import torch

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.distillers.teacher_attention import (
    TeacherAttentionMismatch, default_teacher_attention_path, weights_sha256)
from mmseg_attnkd.testing import (synthetic_dataset_cfg,
                                  tiny_deeplabv3plus_cfg, tiny_runtime_cfg,
                                  tiny_teacher_distill_cfg, write_config)

from _tools_helpers import load_tool

NUM_CLASSES = 4


def _teacher_ckpt(path, seed=1):
    from mmseg.registry import MODELS
    torch.manual_seed(seed)
    teacher = MODELS.build(tiny_deeplabv3plus_cfg(16, NUM_CLASSES))
    teacher.init_weights()
    torch.save(dict(state_dict=teacher.state_dict()), path)
    return path


def _distill_cfg(teacher_ckpt, **distiller):
    return tiny_teacher_distill_cfg(
        dict(type='AttnFDDistiller', **distiller), NUM_CLASSES,
        teacher_ckpt=teacher_ckpt, algorithm='SegSingleTeacherDistill')


def _build(model_cfg):
    from mmrazor.registry import MODELS
    torch.manual_seed(0)
    return MODELS.build(model_cfg)


@pytest.fixture(scope='module')
def fitted(tmp_path_factory, synthetic_data):
    """A teacher checkpoint, its AttnFD config and a 4-iteration fit."""
    fit_teacher_attention = load_tool('fit_teacher_attention.py')
    root = tmp_path_factory.mktemp('fit')
    ckpt = _teacher_ckpt(str(root / 'teacher.pth'))
    cfg = dict(model=_distill_cfg(ckpt, teacher_attention='random'),
               custom_imports=dict(imports=['mmseg_attnkd'],
                                   allow_failed_imports=False))
    cfg.update(tiny_runtime_cfg(str(root / 'unused'), 4))
    cfg.update(synthetic_dataset_cfg(synthetic_data, NUM_CLASSES))
    cfg_path = write_config(cfg, str(root / 'attnfd.py'))
    cwd = os.getcwd()
    os.chdir(root)  # no --out: the default place, relative to the cwd
    try:
        out = fit_teacher_attention.main([
            cfg_path, '--iters', '4', '--lr', '0.05', '--work-dir',
            str(root / 'fit')
        ])
    finally:
        os.chdir(cwd)
    return dict(ckpt=ckpt, out=str(root / out), cfg_path=cfg_path,
                root=root)


def test_fit_trains_only_the_attention_and_records_its_setup(fitted):
    data = torch.load(fitted['out'], weights_only=True)
    meta = data['meta']
    random_algo = _build(_distill_cfg(fitted['ckpt'],
                                      teacher_attention='random'))
    d = random_algo.distiller
    assert meta['kind'] == 'attnfd_teacher_attention'
    assert [s['name'] for s in meta['stages']] == [
        s['teacher']['name'] for s in d.stages
    ]
    assert [s['channels'] for s in meta['stages']] == [
        s['teacher_channels'] for s in d.stages
    ]
    assert meta['teacher_sha256'] == weights_sha256(random_algo.teacher)
    assert meta['fitted']['iters'] == 4
    # the fit moved the CBAMs away from their seeded random start
    start = d.teacher_attention_state_dict()
    assert set(data['state_dict']) == set(start)
    moved = [k for k in start
             if not torch.equal(start[k], data['state_dict'][k])]
    assert any('spatial_conv.weight' in k for k in moved)
    # and left the teacher file untouched (the fit never saves the teacher)
    teacher = torch.load(fitted['ckpt'], weights_only=True)['state_dict']
    for k, v in random_algo.teacher.state_dict().items():
        torch.testing.assert_close(v, teacher[k])


def test_fitted_file_round_trips_into_the_distiller(fitted):
    algo = _build(_distill_cfg(fitted['ckpt'], teacher_attention='fitted',
                               teacher_attention_ckpt=fitted['out']))
    data = torch.load(fitted['out'], weights_only=True)['state_dict']
    got = algo.distiller.teacher_attention_state_dict()
    for k, v in data.items():
        torch.testing.assert_close(got[k], v)
    for name in algo.distiller.teacher_connector_names:
        conn = algo.distiller.connectors[name]
        assert not any(p.requires_grad for p in conn.parameters())
    # legacy spelling: 'frozen' with a file means fitted
    legacy = _build(_distill_cfg(fitted['ckpt'], teacher_attention='frozen',
                                 teacher_attention_ckpt=fitted['out']))
    assert legacy.distiller.teacher_attention == 'fitted'


def test_fitted_file_refused_for_other_stages_teacher_or_cbam(fitted):
    ckpt, out = fitted['ckpt'], fitted['out']
    with pytest.raises(TeacherAttentionMismatch,
                       match='fitted for 3 stages, this distiller has 1'):
        _build(_distill_cfg(ckpt, teacher_attention='fitted',
                            teacher_attention_ckpt=out,
                            stages=['decode_head.bottleneck']))
    other = _teacher_ckpt(str(fitted['root'] / 'other.pth'), seed=7)
    with pytest.raises(TeacherAttentionMismatch, match='another teacher'):
        _build(_distill_cfg(other, teacher_attention='fitted',
                            teacher_attention_ckpt=out))
    with pytest.raises(TeacherAttentionMismatch, match='spatial_norm'):
        _build(_distill_cfg(ckpt, teacher_attention='fitted',
                            teacher_attention_ckpt=out, spatial_norm=True))


def test_fitted_mode_reads_the_fit_at_its_default_place(fitted, tmp_path,
                                                       monkeypatch):
    # the fit tool wrote it under the teacher's and the stages' digests
    teacher_key = fitted['out'].split(os.sep)[-2].split('-')[0]
    random_algo = _build(_distill_cfg(fitted['ckpt'],
                                      teacher_attention='random'))
    assert teacher_key == weights_sha256(random_algo.teacher)[:12]
    stages = random_algo.distiller.stages
    assert fitted['out'] == str(
        fitted['root'] / default_teacher_attention_path(
            random_algo.teacher, [s['teacher'] for s in stages],
            [s['teacher_channels'] for s in stages],
            random_algo.distiller.cbam_options))
    # 'fitted' without a file, where no fit was made: one line names the
    # place and the command that fills it
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError,
                       match=r"found no fit of this teacher and these stages "
                       r"at 'work_dirs/fit_teacher_attention/.*"
                       r'tools/fit_teacher_attention\.py CONFIG'):
        _build(_distill_cfg(fitted['ckpt']))
    # where the fit tool ran: the default mode loads its file
    monkeypatch.chdir(fitted['root'])
    algo = _build(_distill_cfg(fitted['ckpt']))
    data = torch.load(fitted['out'], weights_only=True)['state_dict']
    got = algo.distiller.teacher_attention_state_dict()
    assert set(got) == set(data)
    for k, v in data.items():
        torch.testing.assert_close(got[k], v)
    # another stage set of the same teacher has a place of its own
    with pytest.raises(FileNotFoundError, match='found no fit'):
        _build(_distill_cfg(fitted['ckpt'],
                            stages=['decode_head.bottleneck']))
    # a file is only for the fitted mode
    with pytest.raises(ValueError, match="only used with teacher_attention="
                       "'fitted'"):
        _build(_distill_cfg(fitted['ckpt'], teacher_attention='random',
                            teacher_attention_ckpt=fitted['out']))


def test_spatial_norm_cbam_has_bn_and_keeps_plain_keys():
    from mmseg_attnkd.models.attention import CBAM
    plain, bn = CBAM(16), CBAM(16, spatial_norm=True)
    assert 'spatial_conv.bias' in plain.state_dict()
    assert 'spatial_norm.weight' not in plain.state_dict()
    assert 'spatial_conv.bias' not in bn.state_dict()
    assert 'spatial_norm.running_mean' in bn.state_dict()
    x = torch.randn(2, 16, 5, 6)
    assert bn(x).shape == x.shape


def test_fit_resumes_in_its_default_work_dir(tmp_path, monkeypatch):
    # an interrupted fit without --work-dir resumes where it wrote
    from mmengine.config import Config

    fit_teacher_attention = load_tool('fit_teacher_attention.py')
    monkeypatch.chdir(tmp_path)
    cfg = Config(dict(model=dict(teacher=dict(), distiller=dict()),
                      train_dataloader=dict()))
    args = fit_teacher_attention.parse_args(['configs/x/my_attnfd.py'])
    fit = fit_teacher_attention.fit_config(cfg, args)
    assert fit.work_dir == 'work_dirs/fit_teacher_attention/my_attnfd'
    assert fit.resume is False
    (tmp_path / fit.work_dir).mkdir(parents=True)
    (tmp_path / fit.work_dir / 'last_checkpoint').write_text('iter_2.pth')
    assert fit_teacher_attention.fit_config(cfg, args).resume is True


def test_a_fit_resumes_only_for_its_own_teacher_and_settings(tmp_path):
    from mmengine.config import Config

    tool = load_tool('fit_teacher_attention.py')
    teacher = tmp_path / 'teacher.pth'
    teacher.write_bytes(b'weights A')
    cfg = Config(dict(model=dict(teacher=dict(), distiller=dict(),
                                 teacher_ckpt=str(teacher))))
    args = tool.parse_args(['c.py', '--iters', '10'])
    first = tool.fit_settings(cfg, args)
    work = str(tmp_path / 'fit')
    tool.check_work_dir(work, first, resume=False)
    tool.check_work_dir(work, first, resume=True)  # same fit: resumes
    teacher.write_bytes(b'weights B')  # another teacher at the same path
    other = tool.fit_settings(cfg, args)
    assert other['teacher_sha256'] != first['teacher_sha256']
    with pytest.raises(SystemExit, match='holds a fit of another teacher'):
        tool.check_work_dir(work, other, resume=True)
    longer = tool.fit_settings(cfg, tool.parse_args(['c.py', '--iters', '20']))
    with pytest.raises(SystemExit, match='delete that folder'):
        tool.check_work_dir(work, longer, resume=True)
