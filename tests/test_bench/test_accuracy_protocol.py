# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The accuracy protocol's paired design and configs, on tiny models."""
import copy
import os.path as osp

import pytest
import torch

from bench.accuracy import arms as acc_arms
from bench.accuracy import protocol as acc_protocol
from bench.accuracy import records as acc_records
from bench.accuracy import render as acc_render
from bench.accuracy import run as acc_run
from bench.lib import common, runs

TINY = dict(acc_arms.PROTOCOLS['cpu'], crop=(32, 48),
            student=dict(width=8, output_stride=16),
            teacher=dict(width=16, output_stride=8))


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    path = tmp_path_factory.mktemp('teacher') / 'teacher.pth'
    model = common.build_model(acc_arms.teacher_cfg(TINY), seed=3)
    torch.save(dict(state_dict=model.state_dict()), path)
    return str(path)


def _student_state(model):
    student = getattr(model, 'architecture', model)
    return student.state_dict()


def test_every_arm_starts_from_the_same_student(tmp_path, teacher_ckpt):
    seed = 1  # another seed's init differs (checked at the end)
    init = runs.paired_init_path(str(tmp_path), acc_arms.student_cfg(TINY),
                                 seed)
    assert runs.paired_init_path(str(tmp_path), acc_arms.student_cfg(TINY),
                                 seed) == init  # saved once
    want = torch.load(init, weights_only=True)['state_dict']
    checked = 0
    for arm in ('baseline', 'ce2', 'kd', 'cwd', 'attnfd', 'sd', 'sd_detach',
                'attnfd_sd'):
        # the tiny teacher has no fitted attention file: a random one
        cfg, _ = acc_arms.arm_model(
            arm, TINY, init, teacher_ckpt, {},
            attnfd=dict(acc_arms.ATTNFD_DEFAULT, teacher_attention='random'))
        # a different global seed per arm: the init must not depend on it
        model = common.build_model(cfg, seed=100 + checked)
        got = _student_state(model)
        assert got.keys() == want.keys()
        for key, value in want.items():
            torch.testing.assert_close(got[key], value, msg=f'{arm} {key}')
        checked += 1
    other = runs.paired_init_path(str(tmp_path), acc_arms.student_cfg(TINY),
                                  seed + 10)
    other_state = torch.load(other, weights_only=True)['state_dict']
    assert not torch.equal(other_state['backbone.stem.0.weight'],
                           want['backbone.stem.0.weight'])


def test_arm_configs_differ_only_where_the_arm_says(teacher_ckpt):
    base, _ = acc_arms.arm_model('baseline', TINY, 'init.pth', None, {})
    ce2, _ = acc_arms.arm_model('ce2', TINY, 'init.pth', None, {})
    assert ce2['decode_head']['loss_decode']['loss_weight'] == 2.0
    ce2['decode_head']['loss_decode']['loss_weight'] = 1.0
    assert ce2 == base
    twice, factor = acc_arms.arm_model('baseline_2x', TINY, 'init.pth', None,
                                       {})
    assert factor == 2 and twice == base
    sd, _ = acc_arms.arm_model('sd', TINY, 'init.pth', None, {},
                           sd=dict(target='logits', mse_weight=0.3,
                                   detach_input=False))
    assert sd['architecture'] == base
    assert sd['distiller']['mse']['target'] == 'logits'
    det, _ = acc_arms.arm_model('sd_detach', TINY, 'init.pth', None, {})
    assert det['distiller']['axial']['detach_input'] is True
    fitted, _ = acc_arms.arm_model(
        'attnfd', TINY, 'init.pth', teacher_ckpt, {False: 'fit.pth'},
        attnfd=dict(acc_arms.ATTNFD_DEFAULT, teacher_attention='fitted'))
    assert fitted['distiller']['teacher_attention_ckpt'] == 'fit.pth'
    assert fitted['architecture'] == base


def test_protocol_models_are_the_camvid240_files_at_its_widths():
    # the cpu protocol trains the files as they are
    cpu = acc_arms.PROTOCOLS['cpu']
    assert acc_arms.teacher_cfg(cpu) == acc_arms.config_model('teacher')
    assert acc_arms.student_cfg(cpu) == acc_arms.config_model('baseline')
    # the gpu teacher: the width-32 file at width 64, every channel doubled
    wide = acc_arms.teacher_cfg(acc_arms.PROTOCOLS['gpu'])
    assert wide['backbone']['base_channels'] == 64
    assert (wide['decode_head']['in_channels'],
            wide['decode_head']['c1_channels']) == (512, 32)
    assert wide['auxiliary_head']['in_channels'] == 256
    # a width changes the channels, never the output stride of the file
    with pytest.raises(ValueError, match='output stride 16, the protocol 8'):
        acc_arms.student_cfg(dict(TINY, student=dict(width=8,
                                                     output_stride=8)))


def test_ablation_names_are_unique_and_parse_back():
    names = acc_arms.ablation_names()
    assert len(names) == len(set(names))
    cfg, _ = acc_arms.arm_model(names[0], TINY, None, 'x.pth',
                            {False: 'fit.pth'})
    assert cfg['distiller']['type'] == 'AttnFDDistiller'


def test_dry_run_writes_loadable_configs(tmp_path, capsys):
    results = acc_run.main([
        '--dry-run', '--seeds', '0', '--iters', '4', '--teacher-iters', '4',
        '--work-root', str(tmp_path), '--arms', 'baseline', 'kd', 'sd',
        '--data-cache', str(tmp_path / 'data')
    ])
    assert {r['arm'] for r in results} >= {'baseline', 'kd', 'sd'}
    # a second driver on the same work root stops before touching a run
    with runs.driver_lock(str(tmp_path / 'cpu'), 'the first driver'):
        with pytest.raises(SystemExit, match=r'in use by the first driver '
                           r'\(pid \d+\); wait for it'):
            acc_run.main(['--dry-run', '--seeds', '0', '--arms', 'baseline',
                           '--work-root', str(tmp_path),
                           '--data-cache', str(tmp_path / 'data')])
    capsys.readouterr()
    with pytest.raises(SystemExit, match='2'):
        acc_run.parse_args(['--arms', 'nope'])
    assert "error: unknown arms ['nope']" in capsys.readouterr().err
    args = acc_run.parse_args(['--attnfd', 'loss_weight=8',
                                'spatial_norm=1'])
    assert args.attnfd == dict(acc_arms.ATTNFD_DEFAULT, loss_weight=8.0,
                               spatial_norm=True)
    assert copy.deepcopy(args.sd) == acc_arms.SD_DEFAULT
    assert args.proto['grid'] == 'small'  # the CPU protocol's own
    assert acc_run.parse_args(['--grid', 'full']).proto['grid'] == 'full'


def test_driver_lock_is_released_with_its_holder(tmp_path):
    folder = str(tmp_path / 'root')
    with runs.driver_lock(folder, 'first'):
        with pytest.raises(SystemExit, match='in use by first'):
            with runs.driver_lock(folder, 'second'):
                pass
    with runs.driver_lock(folder, 'third'):
        with open(osp.join(folder, '.driver.lock')) as f:
            assert f.read().startswith('third (pid ')


def test_commit_is_dirty_for_code_changes_not_for_results(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(['git', '-c', 'user.name=t', '-c', 'user.email=t@t',
                        *args], cwd=tmp_path, check=True,
                       capture_output=True)

    for rel in ('bench/results/acc.json', 'mmseg_attnkd/core.py'):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text('0')
    git('init', '-q')
    git('add', '.')
    git('commit', '-q', '-m', 'x')
    clean = common.git_commit(root=str(tmp_path))
    assert len(clean) == 40 and '+' not in clean
    # a protocol running in a frozen clone writes its results there
    (tmp_path / 'bench/results/acc.json').write_text('1')
    assert common.git_commit(root=str(tmp_path)) == clean
    (tmp_path / 'mmseg_attnkd/core.py').write_text('1')
    assert common.git_commit(root=str(tmp_path)) == clean + '+dirty'
    assert common.git_commit(['bench'], root=str(tmp_path)) == clean


def test_finished_runs_are_restored_from_the_committed_results(tmp_path):
    import hashlib
    import json
    data = tmp_path / 'data'
    data.mkdir()
    (data / '.complete').write_text('ok')
    teachers = tmp_path / 'teachers'
    teachers.mkdir()
    weights = teachers / 'teacher.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(2))), weights)
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    args = acc_run.parse_args([
        '--out-dir', str(tmp_path / 'results'), '--work-root',
        str(tmp_path / 'work'), '--data-cache', str(data), '--teacher-dir',
        str(teachers)
    ])
    base = dict(arm='baseline', seed=1, iters=args.iters, val={'10': 30.0},
                test_mIoU=33.0, protocol='cpu')
    teacher = dict(arm='teacher', seed=0, iters=args.teacher_iters,
                   test_mIoU=50.0, plain_sha256=sha, checkpoint='/gone.pth')
    common.write_json(
        str(tmp_path / 'results' / 'accuracy_cpu.json'),
        dict(meta=dict(proto=args.proto, teacher_iters=args.teacher_iters),
             runs=[base, teacher]))
    state = acc_protocol.Protocol(args)
    out = tmp_path / 'r.json'
    got = state.restore(dict(arm='baseline', seed=1, iters=args.iters,
                             protocol='cpu'), str(out))
    assert got['test_mIoU'] == 33.0 and 'restored_from' in got
    assert json.loads(out.read_text())['test_mIoU'] == 33.0
    # another seed, schedule or setting is not that run
    assert state.restore(dict(arm='baseline', seed=2, iters=args.iters),
                         str(out)) is None
    assert state.restore(dict(arm='baseline', seed=1, iters=7),
                         str(out)) is None
    # the teacher comes back with the committed weights only
    t = state.restore(dict(arm='teacher', seed=0, iters=args.teacher_iters),
                      str(out))
    assert t['checkpoint'] == str(weights)
    weights.write_bytes(b'other')
    assert state.restore(dict(arm='teacher', seed=0,
                              iters=args.teacher_iters), str(out)) is None
    # a changed protocol restores nothing
    args2 = acc_run.parse_args([
        '--out-dir', str(tmp_path / 'results'), '--batch', '4'
    ])
    assert acc_protocol.committed_runs(args2) == {}


def test_fit_cache_key_follows_the_teacher_weights_not_its_path():
    def key(path, sha, spatial_norm=False):
        model = acc_arms.fit_model(TINY, path, spatial_norm)
        return acc_protocol.fit_key(model, 500, dict(checkpoint=path,
                                                 plain_sha256=sha))

    same = key('cache/teacher/iter_6000.pth', 'ab' * 32)
    assert key('/abs/cache/teacher/iter_6000.pth', 'ab' * 32) == same
    assert key('cache/teacher/iter_6000.pth', 'cd' * 32) != same
    assert key('cache/teacher/iter_6000.pth', 'ab' * 32, True) != same
    # without a recorded checksum the path is all that names the teacher
    key_a = acc_protocol.fit_key(acc_arms.fit_model(TINY, 'a.pth', False),
                                 500, {})
    key_b = acc_protocol.fit_key(acc_arms.fit_model(TINY, 'b.pth', False),
                                 500, {})
    assert key_a != key_b


def test_a_run_folder_keeps_the_settings_it_started_with(tmp_path):
    info = dict(arm='attnfd', seed=0, iters=100, protocol='cpu',
                attnfd=dict(teacher_attention='fitted', loss_weight=8.0))
    runs.check_same_settings(str(tmp_path), dict(info, test_mIoU=1.0), info)
    other = dict(info, attnfd=dict(info['attnfd'], loss_weight=2.0))
    with pytest.raises(runs.RunFailed, match='was started with attnfd='):
        runs.check_same_settings(str(tmp_path), info, other)
    with pytest.raises(runs.RunFailed, match='was started with iters=100'):
        runs.check_same_settings(str(tmp_path), info, dict(info, iters=200))


def test_the_val_choice_waits_for_every_ablation_run():
    results = [dict(arm='a', seed=0), dict(arm='b', seed=0),
               dict(arm='a', seed=1)]
    assert acc_records.missing_runs(['a', 'b'], [0, 1], results) == [
        'b seed 1']
    assert acc_records.missing_runs(['a'], [0, 1], results) == []


def test_package_defaults_are_the_val_choice_of_the_committed_results():
    # the committed CamVid ablation, every run finished, decides the
    # defaults of AttnFDDistiller and of the axial-SD MSE term
    import inspect
    import json

    from mmseg_attnkd.models.connectors.axial_connector import AxialConnector
    from mmseg_attnkd.models.distillers import AttnFDDistiller
    from mmseg_attnkd.models.distillers.axial_branch import DEFAULT_MSE
    with open(osp.join(common.RESULTS_DIR, 'accuracy_cpu.json')) as f:
        data = json.load(f)
    proto = data['meta']['proto']
    names = acc_arms.ablation_names(proto['grid'])
    assert acc_records.missing_runs(names, proto['ablation_seeds'],
                                 data['runs']) == []
    chosen = acc_records.choose_on_val(data['runs'])
    params = inspect.signature(AttnFDDistiller).parameters
    assert chosen['attnfd'] == {
        key: params[key].default
        for key in ('teacher_attention', 'normalize', 'loss_weight',
                    'spatial_norm')
    }
    detach = inspect.signature(AxialConnector).parameters['detach_input']
    assert chosen['sd'] == dict(target=DEFAULT_MSE['target'],
                                mse_weight=DEFAULT_MSE['loss_weight'],
                                detach_input=detach.default)


def test_the_settings_line_names_the_choice_not_the_placeholder():
    grid = acc_arms.attnfd_ablation('small')
    results = [dict(arm=acc_arms.attnfd_name(s), seed=0, val_final=40.0 + i)
               for i, s in enumerate(grid)]
    results += [dict(arm=acc_arms.sd_name(s), seed=0, val_final=30.0 - i)
                for i, s in enumerate(acc_arms.sd_ablation('small'))]
    meta = dict(argv=['--protocol', 'cpu', '--choose-on-val'],
                proto=dict(grid='small', ablation_seeds=[0]),
                attnfd=dict(acc_arms.ATTNFD_DEFAULT, loss_weight=99.0),
                sd=acc_arms.SD_DEFAULT, chosen=None)
    line = acc_render.settings_line(results, meta)
    assert str(grid[-1]) in line and "the ablation's choice" in line
    assert '99.0' not in line
    # an unfinished ablation names no choice yet
    assert 'when the ablation has finished' in \
        acc_render.settings_line(results[1:], meta)
    # recorded by the protocol (or no val choice): the meta's settings
    meta['chosen'] = dict(attnfd=grid[-1])
    assert '99.0' in acc_render.settings_line(results, meta)
