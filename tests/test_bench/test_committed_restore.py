# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The committed results restore every finished run they record.

Each study is run on an empty work root with training switched off (a run
that is not restored fails the test): the run keys and settings digests it
computes today must find every finished run of its committed results JSON,
so a resumed study never retrains one.
"""
import json
import os.path as osp

from bench.accuracy import protocol as acc_protocol
from bench.accuracy import run as acc_run
from bench.lib import common, runs
from bench.sstem import data as sstem_data
from bench.sstem import run as sstem_run
from bench.sstem import schedule as sstem_schedule


def _load(name: str) -> dict:
    with open(osp.join(common.RESULTS_DIR, f'{name}.json')) as f:
        return json.load(f)


def _no_training(*_, **__):
    raise AssertionError('a finished run was not restored: it would train')


def _invocations(meta: dict):
    yield meta['argv']
    for extra in meta.get('extra_invocations', []):
        yield extra['argv']


def _public_argv(argv):
    """The recorded argv without its machine-local folders and jobs."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
            continue
        if item in ('--data-cache', '--work-root', '--out-dir', '--jobs',
                    '--deadline-min'):
            skip = True
            continue
        out.append(item)
    return out


def test_the_camvid_protocol_restores_its_committed_runs(
        tmp_path, monkeypatch):
    protocol = 'cpu'
    data = _load(f'accuracy_{protocol}')
    finished = {(r['arm'], r['seed']) for r in data['runs']
                if r.get('test_mIoU') is not None}
    monkeypatch.setattr(acc_protocol, 'prepare_data', lambda args: 'data')
    monkeypatch.setattr(acc_protocol.Protocol, 'init_path',
                        lambda self, seed: None)
    monkeypatch.setattr(acc_protocol.Protocol, 'fit_attention',
                        lambda self, spatial_norm: 'fitted.pth')
    monkeypatch.setattr(acc_protocol.Protocol, 'save',
                        lambda self, final: None)
    monkeypatch.setattr(common, 'machine_info', lambda: {})
    monkeypatch.setattr(runs, 'train_run', _no_training)
    restored = set()
    for argv in _invocations(data['meta']):
        args = acc_run.parse_args(_public_argv(argv) + [
            '--work-root', str(tmp_path / 'work')])
        assert osp.abspath(acc_protocol.committed_path(args)) == osp.join(
            common.RESULTS_DIR, f'accuracy_{protocol}.json')
        results = acc_run.run_protocol(args)
        assert all(r.get('restored_from') for r in results)
        restored |= {(r['arm'], r['seed']) for r in results}
    assert restored == finished


def test_the_camvid_gpu_teacher_is_recognised():
    # its plain weights are not committed, so it is only found by its key
    # (restoring it also needs the weights under --teacher-dir)
    data = _load('accuracy_gpu')
    args = acc_run.parse_args(_public_argv(data['meta']['argv']))
    committed = acc_protocol.committed_runs(args)
    info = dict(arm='teacher', seed=0, iters=args.teacher_iters,
                protocol='gpu')
    assert list(committed) == [acc_protocol.run_key(info)]


def test_the_sstem_study_restores_its_committed_runs(tmp_path, monkeypatch):
    data = _load('sstem_study_cpu')
    monkeypatch.setattr(sstem_data, 'image_size',
                        lambda data_dir, split='test': tuple(
                            data['extra']['image']))
    monkeypatch.setattr(sstem_schedule, 'prepare_run', _no_training)
    args = sstem_run.parse_args(['--protocol', data['args']['protocol'],
                             '--work-root', str(tmp_path / 'work')])
    results, failed, stopped = sstem_schedule.run_all(
        args, str(tmp_path / 'data'))
    assert failed == stopped == []
    assert all(r.get('restored_from') for r in results)
    assert sorted((r['arch'], r['arm'], r['seed']) for r in results) == \
        sorted((r['arch'], r['arm'], r['seed']) for r in data['runs'])
