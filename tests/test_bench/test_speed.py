# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""bench/speed: arms are shipped configs + overrides; report verdicts; a
tiny run."""
import json
import os.path as osp
import subprocess
import sys

import pytest

from bench.speed import report
from bench.speed.arms import ARMS, PAIRS, SCALES
from bench.speed.run import arm_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.parametrize('scale', sorted(SCALES))
def test_every_arm_is_a_shipped_config_with_its_overrides(scale):
    for name, arm in ARMS.items():
        cfg = arm_config(scale, name)
        model = cfg.model
        bf16 = ('model.teacher_precision', 'bf16') in arm.options
        assert model.get('teacher_precision', 'fp32') == (
            'bf16' if bf16 else 'fp32'), name
        if arm.model == 'student':
            assert model.type == 'EncoderDecoder'
        elif arm.model == 'axial_sd':
            assert model.distiller.type == 'AxialSelfDistiller'
            student = arm_config(scale, 'student').model
            assert model.architecture.backbone == student.backbone
        elif arm.distiller_from:
            assert model.distiller.loss.type == 'ChannelWiseDivergence'
        else:
            assert model.distiller.type == 'AttnFDDistiller'
        holder = model.get('architecture', model)
        assert tuple(holder.data_preprocessor.size) == SCALES[scale]['crop']
    for _, num, den in PAIRS:
        assert num in ARMS and den in ARMS


def _data(ratio_attnfd, ratio_cl):
    rounds = 6
    base = [1.0 + 0.01 * i for i in range(rounds)]
    times = dict(attnfd=base, attnfd_bf16=[ratio_attnfd * b for b in base],
                 student=base, student_cl=[ratio_cl * b for b in base])
    res = dict(times=times, compile=dict(
        student_compile=dict(failed='BackendCompilerFailed: no compiler')),
        memory=dict(attnfd=dict(step_peak=100), attnfd_bf16=dict(
            step_peak=80)), crop=[180, 240], batch=8)
    return dict(command='python bench/speed/run.py', commit='0' * 40,
                machine=dict(cpu='CPU', cores=2, torch='2', torch_threads=2,
                             loadavg_1m=0.1, date='today'),
                rounds=rounds, load_start=0.1, load_end=0.2, wall_s=60.0,
                scales=dict(demo=res), pairs=[list(p) for p in PAIRS])


def test_report_states_the_target_and_keeps_slower_options_off(tmp_path):
    report.write(str(tmp_path), 'speed_cpu', _data(0.6, 1.1))
    text = (tmp_path / 'speed_cpu.md').read_text()
    assert "AttnFD step with the bf16 teacher <= 0.80x of today's: " \
        '0.600 [0.600, 0.600] -> met' in text
    assert '* channels-last: not faster' in text and 'stays an option' in text
    assert 'failed' in text  # the compile failure is reported, not hidden
    data = json.loads((tmp_path / 'speed_cpu.json').read_text())
    pair = next(p for p in data['scales']['demo']['pairs']
                if p['num'] == 'attnfd_bf16')
    assert pair['memory'] == pytest.approx(0.8)
    report.write(str(tmp_path), 'speed_cpu', _data(0.9, 0.7))
    text = (tmp_path / 'speed_cpu.md').read_text()
    assert '-> missed' in text
    assert '* channels-last: faster in every measured ratio (1 measured) ' \
        '-> default' in text


@pytest.mark.slow
def test_tiny_run_writes_the_results(tmp_path):
    out = subprocess.run(
        [sys.executable, 'bench/speed/run.py', '--rounds', '2', '--warmup',
         '0', '--scales', 'demo', '--arms', 'student', 'student_cl',
         '--no-compile', '--threads', '1', '--batch', '2', '--out-dir',
         str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads((tmp_path / 'speed_cpu.json').read_text())
    res = data['scales']['demo']
    assert res['batch'] == 2 and data['batch'] == 2  # as asked, recorded
    assert sorted(res['times']) == ['student', 'student_cl']
    assert all(len(t) == 2 and min(t) > 0 for t in res['times'].values())
    assert all(m['step_peak'] > 0 for m in res['memory'].values())
    text = (tmp_path / 'speed_cpu.md').read_text()
    assert 'student step, channels-last / default' in text


def test_an_interrupted_run_resumes_only_at_the_same_commit(tmp_path):
    import argparse

    from bench.speed.run import _load_partial
    path = str(tmp_path / 'speed_cpu.partial.json')
    args = argparse.Namespace(rounds=30, threads=2)
    assert _load_partial(path, 'abc', args) == {}  # nothing to resume
    done = dict(commit='abc', rounds=30, threads=2, wall_s=12.0,
                scales=dict(demo=dict(times=dict(student=[1.0]))))
    with open(path, 'w') as f:
        json.dump(done, f)
    assert _load_partial(path, 'abc', args)['scales'] == done['scales']
    assert _load_partial(path, 'other', args) == {}
    assert _load_partial(path, 'abc', argparse.Namespace(
        rounds=5, threads=2)) == {}
