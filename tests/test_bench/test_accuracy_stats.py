# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Aggregation of the accuracy protocol: means, paired intervals, choice."""
import math
import statistics

import pytest

from bench import accuracy_report, stats
from bench import camvid_arms as arms


def test_mean_std_skips_missing_values():
    ms = stats.mean_std([1.0, None, 3.0, float('nan')])
    assert ms.n == 2 and ms.mean == 2.0
    assert ms.std == pytest.approx(math.sqrt(2))
    assert stats.mean_std([None]) is None
    assert stats.mean_std([5.0]).std is None


def test_paired_diff_uses_shared_seeds_and_t_interval():
    arm = {0: 42.0, 1: 43.5, 2: 41.0, 3: 50.0}
    ref = {0: 40.0, 1: 41.0, 2: 40.5}  # seed 3 has no partner
    pd = stats.paired_diff(arm, ref)
    diffs = [2.0, 2.5, 0.5]
    assert pd.seeds == [0, 1, 2] and pd.n == 3
    assert pd.mean == pytest.approx(statistics.mean(diffs))
    half = 4.303 * statistics.stdev(diffs) / math.sqrt(3)
    assert pd.low == pytest.approx(pd.mean - half)
    assert pd.high == pytest.approx(pd.mean + half)
    assert pd.above_zero is (pd.low > 0)


def test_paired_diff_is_not_the_difference_of_unpaired_spreads():
    # a constant +1 shift with large seed-to-seed spread: paired CI is exact
    ref = {0: 30.0, 1: 40.0, 2: 50.0}
    arm = {s: v + 1.0 for s, v in ref.items()}
    pd = stats.paired_diff(arm, ref)
    assert pd.mean == pytest.approx(1.0)
    assert pd.low == pytest.approx(1.0) and pd.high == pytest.approx(1.0)
    assert pd.above_zero


def test_single_pair_has_no_interval():
    pd = stats.paired_diff({0: 2.0}, {0: 1.0})
    assert pd.n == 1 and pd.low is None and not pd.above_zero
    assert stats.format_paired(pd) == '+1.00 (n=1)'
    assert stats.paired_diff({0: 1.0}, {1: 1.0}) is None


def test_t_quantiles():
    assert stats.t_quantile_975(1) == 12.706
    assert stats.t_quantile_975(2) == 4.303
    assert stats.t_quantile_975(500) == 1.960
    with pytest.raises(ValueError,
                       match='degrees of freedom must be >= 1, got 0'):
        stats.t_quantile_975(0)


def _run(arm, seed, val, test, **extra):
    return dict(arm=arm, seed=seed, iters=100, val={'100': val},
                val_final=val, test_mIoU=test,
                train_seconds={'100': 10.0}, sec_per_iter=0.1, **extra)


def test_choose_on_val_picks_best_mean_val_never_test():
    grid = arms.attnfd_ablation()
    a, b = arms.attnfd_name(grid[0]), arms.attnfd_name(grid[1])
    results = [
        _run(a, 0, val=40.0, test=99.0), _run(a, 1, val=41.0, test=99.0),
        _run(b, 0, val=45.0, test=1.0), _run(b, 1, val=44.0, test=1.0)
    ]
    chosen = accuracy_report.choose_on_val(results)
    assert chosen['attnfd'] == grid[1]
    assert chosen['attnfd_scores'] == {a: 40.5, b: 44.5}
    assert chosen['sd'] is None


def test_targets_and_teacher_output_pseudo_arm():
    results = [_run('teacher', 0, 60.0, 55.0)]
    for seed, (b, f) in enumerate([(40.0, 43.0), (41.0, 43.5), (39.0,
                                                                 42.0)]):
        results.append(_run('baseline', seed, b, b))
        results.append(_run('attnfd', seed, f, f))
        results.append(_run('sd', seed, b, b + 0.5,
                            teacher_output_test_mIoU=b + 1.0,
                            teacher_output_val_mIoU=b + 1.0))
        results.append(_run('ce2', seed, b, b + 0.2))
    table = accuracy_report.by_arm(results)
    assert 'sd' + accuracy_report.TEACHER_OUTPUT in table
    lines = accuracy_report.target_lines(table, 100)
    text = '\n'.join(lines)
    assert 'teacher test mIoU >= baseline + 8' in text
    attnfd = [x for x in lines if x.startswith('AttnFD - baseline >=')][0]
    assert attnfd.endswith('met')  # +2.67 mean, tight interval
    assert [x for x in lines if 'teacher output >=' in x][0].endswith('met')
    assert [x for x in lines if 'doubled-CE' in x][0].endswith('met')
