# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The studies' model-zoo releases (bench/camvid/release.py,
bench/sstem/release.py over bench/lib/zoo.py): which rows, from which
runs, released once per checkpoint."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from bench.camvid import release as camvid_release
from bench.lib.zoo import StudyZoo
from bench.sstem import release as sstem_release
from bench.sstem.arms import ARCHS, CONFIGS, arm_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_sstem_rows_are_each_architecture_plain_and_sd_student():
    rows = sstem_release.RELEASES
    assert len(rows) == 12
    assert {arch for arch, _ in rows.values()} == set(ARCHS)
    keys = list(rows)
    for arch in ARCHS:  # a student's row follows its baseline's
        assert keys.index(f'{arch}_baseline') < keys.index(f'{arch}_sd')
    for arch in ('unet', 'upernet'):
        plain, sd = arm_config(arch, 'baseline'), arm_config(arch, 'sd')
        # the sd student is released as the plain model of its config
        assert sd['model']['architecture'] == plain['model']
        extra = sstem_release.publish_args(arch, 'sd', 61.5)
        assert '--student-only' in extra
        assert extra[extra.index('--student-config') + 1] == osp.join(
            REPO, 'configs', 'sstem256', CONFIGS[(arch, 'baseline')])
        assert extra[extra.index('--student-baseline') + 1] == '61.5'
        assert '--student-only' not in sstem_release.publish_args(
            arch, 'baseline')


def test_camvid_rows_name_existing_configs():
    for arm, config, how in camvid_release.RELEASES.values():
        assert how in ('plain', 'student', 'refine')
        assert osp.isfile(osp.join(REPO, 'configs', 'camvid240', config))


def _fake_data(root):
    for split in ('train', 'val', 'test'):
        os.makedirs(root / 'img_dir' / split)
        Image.fromarray(np.zeros((32, 48, 3), np.uint8)).save(
            root / 'img_dir' / split / 'a.png')
    return str(root)


def test_only_finished_runs_of_the_shipped_config_are_released(tmp_path):
    from bench.sstem.config import run_config_sha, run_dir
    from bench.sstem.run import parse_args
    data = _fake_data(tmp_path / 'data')
    args = parse_args(['--protocol', 'cpu', '--work-root',
                       str(tmp_path / 'work'), '--data-dir', data])
    find = sstem_release.finished_run
    assert 'no finished seed-0 run' in find(args, 'fpn', 'sd')
    work = run_dir(args, 'fpn', 'sd', 0)
    os.makedirs(work)

    def result(**kw):
        with open(osp.join(work, 'result.json'), 'w') as f:
            json.dump(dict(kw, test={'mIoU': 60.0}), f)

    result(config_sha='x', restored_from='bench/results/s.json')
    assert 'has no checkpoint' in find(args, 'fpn', 'sd')
    result(config_sha='x')  # e.g. a --width 4 smoke run
    assert 'other settings than' in find(args, 'fpn', 'sd')
    # another width changes the digest: such a run is refused too
    narrow = parse_args(['--protocol', 'cpu', '--width', '4', '--data-dir',
                         data, '--work-root', str(tmp_path / 'work')])
    sha = run_config_sha('fpn', 'sd', 0, args, data)
    assert run_config_sha('fpn', 'sd', 0, narrow, data) != sha
    result(config_sha=sha)
    assert 'no checkpoint left' in find(args, 'fpn', 'sd')
    ckpt = osp.join(work, 'iter_1400.pth')
    open(ckpt, 'wb').close()
    with open(osp.join(work, 'last_checkpoint'), 'w') as f:
        f.write(ckpt)
    run = find(args, 'fpn', 'sd')
    assert run['checkpoint_path'] == ckpt and run['work_dir'] == work


def test_a_row_is_released_once_per_checkpoint(tmp_path, monkeypatch):
    from bench.lib import common
    # released files live in the repository; this zoo is in tmp_path, whose
    # paths the log would otherwise redact
    monkeypatch.setattr(common, 'repo_relative', lambda data: data)
    zoo = StudyZoo(metafile=str(tmp_path / 'metafile.yml'),
                   zoo_dir=str(tmp_path / 'zoo'), collection='c',
                   dataset='d', input_shape=(8, 8))
    os.makedirs(tmp_path / 'zoo')
    log = str(tmp_path / 'release.json')
    calls = []

    def publish(tag):
        def release_row():
            calls.append(tag)
            path = tmp_path / 'zoo' / f'model_{tag}-0000abcd.pth'
            path.write_bytes(b'w')
            return dict(name='model', weights=str(path))
        return release_row

    row = zoo.release_once(log, 'm', 'model.py', 'sha-a', publish('a'))
    assert row['source_sha256'] == 'sha-a' and calls == ['a']
    assert json.load(open(log))['rows']['m'] == row
    # the same checkpoint again: nothing is done
    assert zoo.release_once(log, 'm', 'model.py', 'sha-a',
                            publish('b')) is None
    assert calls == ['a']
    # a new checkpoint replaces the earlier file of that config
    zoo.release_once(log, 'm', 'model.py', 'sha-c', publish('c'))
    assert calls == ['a', 'c']
    assert sorted(os.listdir(tmp_path / 'zoo')) == ['model_c-0000abcd.pth']
    assert json.load(open(log))['rows']['m']['source_sha256'] == 'sha-c'
    # its file gone, a row is released again from the same checkpoint
    os.remove(tmp_path / 'zoo' / 'model_c-0000abcd.pth')
    assert zoo.release_once(log, 'm', 'model.py', 'sha-c',
                            publish('d')) is not None


@pytest.mark.parametrize('script', ['bench/camvid/release.py',
                                    'bench/sstem/release.py'])
def test_release_scripts_answer_help(script):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, osp.join(REPO, script), '--help'],
                         capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0 and '--work-root' in out.stdout
