# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""bench/parity/run.py: the latency target and a tiny run."""
import json

from bench.parity import report as parity_report
from bench.parity import run as parity


def _res(median, low, high, size=(360, 480)):
    ratio = dict(median=median, low=low, high=high, n=30)
    return dict(args=dict(target_size='360x480', axial_stride=1),
                machine=dict(loadavg_1m=0.1, loadavg_1m_end=0.2),
                axial=[dict(size=list(size), latency_ratio=ratio)])


def test_latency_target_line_states_met_or_missed():
    line = parity_report.latency_target_line(_res(1.2, 1.18, 1.22))
    assert line.startswith(
        'Target (teacher-output eager latency <= +25% over its student at '
        '360x480, stride 1): met (+20.0% [+18.0, +22.0]; 1-min load')
    assert ': missed (+52.0% [+50.0, +54.0];' in \
        parity_report.latency_target_line(_res(1.52, 1.5, 1.54))
    assert ': met (95% interval contains the target) (' in (
        parity_report.latency_target_line(_res(1.24, 1.2, 1.3)))
    # judged at --target-size only
    assert parity_report.latency_target_line(
        _res(1.2, 1.1, 1.3, (64, 96))) == ''


def test_tiny_run_keeps_parity_checks_and_judges_latency(
        tmp_path, restore_threads_and_logger):
    parity.main([
        '--sizes', '64x96:11', '--target-size', '64x96', '--attnfd-size',
        '64', '64', '--runs', '2', '--out-dir', str(tmp_path)
    ])
    data = json.loads((tmp_path / 'parity.json').read_text())
    md = (tmp_path / 'parity.md').read_text()
    assert data['attnfd']['bit_identical'] and data['attnfd']['keys_ok']
    axial, = data['axial']
    assert axial['identical']
    assert len(axial['student_latency']['times_s']) == 2
    assert set(axial['latency_ratio']) == {'median', 'low', 'high', 'n'}
    assert axial['student_latency']['ci_s']['n'] == 2
    assert 'loadavg_1m_end' in data['machine']
    assert 'Target (ratio 1.000, same outputs): met.' in md
    assert 'Target (teacher-output eager latency <= +25% over its student ' \
        'at 64x96, stride 1): ' in md
