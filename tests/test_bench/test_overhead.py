# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""bench/overhead/run.py: statistics, target verdicts and a tiny run."""
import json

import pytest
import torch

from bench.lib import timing
from bench.lib.timing import Interval
from bench.overhead import arms as overhead_arms
from bench.overhead import axial_block
from bench.overhead import report as overhead_report
from bench.overhead import run as overhead


# ---------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------
def test_median_ci_of_three_values_spans_them():
    # a resampled median is 1 with probability 7/27 > 2.5%, 3 likewise
    iv = timing.median_ci([3.0, 1.0, 2.0])
    assert iv == Interval(2.0, 1.0, 3.0, 3)


def test_median_ci_of_constant_values_is_a_point():
    assert timing.median_ci([0.5] * 30) == Interval(0.5, 0.5, 0.5, 30)


def test_median_ci_is_seeded_and_brackets_the_median():
    vals = [float(v) for v in range(1, 32)]  # median 16
    iv = timing.median_ci(vals)
    assert iv == timing.median_ci(vals)
    assert iv.median == 16.0 and iv.n == 31
    assert 10 < iv.low < 16 < iv.high < 22
    narrow = timing.median_ci(vals, level=0.5)
    assert iv.low < narrow.low <= narrow.high < iv.high


def test_ratio_ci_uses_per_round_ratios():
    den = [1.0, 2.0, 4.0, 8.0]
    assert timing.ratio_ci([2 * d for d in den], den) == Interval(
        2.0, 2.0, 2.0, 4)
    with pytest.raises(ValueError, match='differ in length'):
        timing.ratio_ci([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match='non-finite'):
        timing.median_ci([1.0, float('nan')])
    with pytest.raises(ValueError, match='at least one'):
        timing.median_ci([])


def test_verdict_and_formatting():
    assert timing.verdict(Interval(1.2, 1.1, 1.25, 30), 1.3) == 'met'
    assert timing.verdict(Interval(1.4, 1.35, 1.5, 30), 1.3) == 'missed'
    assert timing.verdict(Interval(1.25, 1.2, 1.35, 30), 1.3) == (
        'met (95% interval contains the target)')
    assert timing.verdict(Interval(1.35, 1.2, 1.4, 30), 1.3) == (
        'missed (95% interval contains the target)')
    assert timing.verdict(1.3, 1.3) == 'met'
    assert timing.verdict(1.31, 1.3) == 'missed'
    assert timing.verdict(None, 1.3) == 'n/a'
    assert timing.format_ci(Interval(0.1234, 0.1, 0.15, 3), 1, 1e3) == (
        '123.4 [100.0, 150.0]')
    assert timing.format_ci(None) == '-'
    assert timing.format_extra_pct(Interval(1.12, 1.091, 1.153, 5)) == (
        '+12.0% [+9.1, +15.3]')


def test_round_robin_discards_warmup_and_logs_rounds():
    calls, lines = [], []
    steps = {k: (lambda k=k: calls.append(k) or 0.5) for k in 'ab'}
    times = timing.round_robin(steps, 3, warmup=1, label='[x] ',
                               log=lines.append)
    assert calls == list('ab' * 4)
    assert times == dict(a=[0.5] * 3, b=[0.5] * 3)
    assert [ln.split(' (')[0] for ln in lines] == [
        '[x] warm-up 1/1', '[x] round 1/3', '[x] round 2/3', '[x] round 3/3']


# ---------------------------------------------------------------------------
# summaries and targets (no models)
# ---------------------------------------------------------------------------
def _times(**medians):
    return {k: [v * f for f in (0.98, 1.0, 1.02)] for k, v in medians.items()}


def test_summarize_scale_states_the_issue_targets():
    times = _times(student=1.0, axial_sd=3.5, axial_sd_s2=1.2, floor=2.0,
                   attnfd=2.1)
    memory = {a: dict(step_peak=100, peak_rss=500) for a in times}
    memory['attnfd'] = dict(step_peak=162, peak_rss=600)
    params = {a: 1 for a in times}
    demo = overhead.summarize_scale('demo', times, params, memory)
    got = {r['label']: [(t['what'], t['verdict']) for t in r['targets']]
           for r in demo['ratios']}
    assert got == {
        'axial SD / student': [('time', 'missed')],
        'axial SD stride 2 / student': [('time', 'met')],
        'AttnFD / floor': [('time', 'met'), ('step memory', 'missed')],
        'floor / student': []}
    r18 = overhead.summarize_scale('r18', times, params, memory)
    # the axial SD time target is a demo-scale target only
    assert [r['targets'] for r in r18['ratios']][:2] == [[], []]
    rows = overhead_report.target_rows(dict(scales=dict(demo=demo)))
    assert [r[0] for r in rows] == ['demo'] * 4
    assert rows[1][1].endswith("(the CPU accuracy protocol's setting)")
    assert [r[3] for r in rows] == ['missed', 'met', 'met', 'missed']


def test_summarize_block_judges_the_axial_rows_only():
    res = dict(shape=[8, 11, 45, 60], params=dict(axial_s1=5, full_sdpa_s1=3),
               times_s=dict(
                   axial_s1=dict(fwd=[1.0] * 3, fwd_nograd=[0.5] * 3,
                                 fwd_bwd=[6.0] * 3),
                   full_sdpa_s1=dict(fwd=[1.0] * 3, fwd_nograd=[1.0] * 3,
                                     fwd_bwd=[2.0] * 3)))
    block = overhead.summarize_block(res)
    axial = block['rows']['axial_s1']
    assert axial['target']['verdict'] == 'missed'
    assert axial['fwd_bwd_over_fwd']['median'] == 6.0
    assert axial['fwd_bwd_over_full_sdpa']['median'] == 3.0
    assert 'target' not in block['rows']['full_sdpa_s1']
    rows = overhead_report.target_rows(dict(block=block))
    assert rows == [['block', 'axial block stride 1: fwd+bwd <= 3x fwd',
                     '6.00 [6.00, 6.00]', 'missed']]


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------
def test_arm_configs_of_both_scales():
    demo = overhead_arms.Setting('demo', (180, 240), 8)
    student, teacher = overhead_arms.models(demo)
    assert student['backbone']['base_channels'] == 16
    assert teacher['backbone']['base_channels'] == 32
    assert teacher['backbone']['strides'] == (1, 2, 1, 1)  # output stride 8
    s2 = overhead_arms.arm_model_cfg('axial_sd_s2', demo)
    assert s2['distiller'] == dict(type='AxialSelfDistiller',
                                   axial=dict(stride=2))
    r18 = overhead_arms.Setting('r18', (180, 240), 2)
    floor = overhead_arms.arm_model_cfg('floor', r18)
    assert floor['architecture']['backbone']['depth'] == 18
    assert floor['teacher']['backbone']['depth'] == 50
    assert overhead_arms.arm_model_cfg('attnfd', r18)['distiller'] == dict(
        type='AttnFDDistiller', teacher_attention='random')
    with pytest.raises(ValueError, match='unknown arm'):
        overhead_arms.arm_model_cfg('fitnets', r18)


def test_full_sdpa_block_keeps_the_shape_and_zero_init_axial_is_identity():
    axial = axial_block.axial_block((32, 40), 2, 2)
    assert axial.stride == 2
    x = torch.randn(axial_block.logits_shape((32, 40), 2))
    assert x.shape == (2, 11, 8, 10)
    assert torch.equal(axial(x), x)  # zero-initialised projection
    full = axial_block.full_block(axial, 2)
    y = full(x.requires_grad_())
    y.square().mean().backward()
    assert y.shape == x.shape and x.grad is not None


# ---------------------------------------------------------------------------
# end to end (tiny)
# ---------------------------------------------------------------------------
def test_tiny_run_writes_every_row(tmp_path, restore_threads_and_logger):
    res = overhead.main([
        '--size', '32', '32', '--rounds', '2',
        '--warmup', '0', '--no-memory', '--out-dir', str(tmp_path),
        '--name', 'tiny'
    ])
    data = json.loads((tmp_path / 'tiny.json').read_text())
    md = (tmp_path / 'tiny.md').read_text()
    demo = data['scales']['demo']
    assert list(demo['arms']) == list(overhead_arms.SCALES['demo']['arms'])
    assert all(len(a['times_s']) == 2 for a in demo['arms'].values())
    assert list(data['block']['rows']) == [
        'axial_s1', 'full_sdpa_s1', 'axial_s2', 'full_sdpa_s2']
    assert data['block']['shape'] == [8, 11, 8, 8]
    assert data['machine']['torch_threads'] == 1
    assert 'loadavg_1m_end' in data['machine']
    assert res['scales']['demo']['load_end'] == demo['load_end']
    for row in ('| student |', '| axial_sd_s2 |', '| AttnFD / floor |',
                '| KD / floor |', '| full_sdpa | 1 |', '#### Targets',
                'axial block stride 2: fwd+bwd <= 3x fwd'):
        assert row in md
    assert md.count('| demo |') == 4  # 2 axial SD, AttnFD time and memory
    assert list(data['scales']['r18']['arms']) == list(
        overhead_arms.SCALES['r18']['arms'])
    assert '#### R18-d8 scale' in md and md.count('| r18 |') == 2


def test_memory_of_one_arm_in_a_fresh_process():
    s = overhead_arms.Setting('demo', (32, 32), 2)
    mem = overhead_arms.memory_in_subprocess('student', s, 1, 1)
    assert mem['arm'] == 'student'
    assert mem['peak_rss'] >= mem['rss_before'] > 0
    assert mem['step_peak'] == mem['peak_rss'] - mem['rss_before']
