# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Aggregation of the accuracy protocol: means, paired intervals, choice."""
import math
import statistics

import pytest

from bench.accuracy import arms as acc_arms
from bench.accuracy import plot as acc_plot
from bench.accuracy import records as acc_records
from bench.accuracy import render as acc_render
from bench.accuracy import report as acc_report
from bench.accuracy import tables as acc_tables
from bench.accuracy import targets as acc_targets
from bench.lib import stats


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
    run = dict(arm=arm, seed=seed, iters=100, val={'100': val},
               val_final=val, test_mIoU=test,
               train_seconds={'100': 10.0}, sec_per_iter=0.1)
    run.update(extra)
    return run


def test_choose_on_val_picks_best_mean_val_never_test():
    grid = acc_arms.attnfd_ablation()
    a, b = acc_arms.attnfd_name(grid[0]), acc_arms.attnfd_name(grid[1])
    results = [
        _run(a, 0, val=40.0, test=99.0), _run(a, 1, val=41.0, test=99.0),
        _run(b, 0, val=45.0, test=1.0), _run(b, 1, val=44.0, test=1.0)
    ]
    chosen = acc_records.choose_on_val(results)
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
        results.append(_run('sd_detach', seed, b, b + 0.5 - seed))
    table = acc_records.by_arm(results)
    assert 'sd' + acc_records.TEACHER_OUTPUT in table
    lines = acc_targets.target_lines(table, 100)
    text = '\n'.join(lines)
    assert 'teacher test mIoU >= baseline + 8' in text
    attnfd = [x for x in lines if x.startswith('AttnFD - baseline >=')][0]
    assert attnfd.endswith('met')  # +2.67 mean, tight interval
    assert [x for x in lines if 'teacher output >=' in x][0].endswith('met')
    assert [x for x in lines if 'doubled-CE' in x][0].endswith('met')
    detach = [x for x in lines if 'input detached' in x][0]
    assert '+1.00 [' in detach and detach.endswith('(information, no target)')
    # AttnFD >= KD met by a mean of +0.33 whose interval includes 0
    kd = [_run('kd', seed, 0.0, t) for seed, t in enumerate((42.0, 44.5,
                                                             41.0))]
    table = acc_records.by_arm(results + kd)
    kd_line = [x for x in acc_targets.target_lines(table, 100)
               if x.startswith('AttnFD >= KD')][0]
    assert kd_line.endswith(
        '-> met by the mean only (the 95% interval includes 0)')


def test_paired_diff_skips_non_finite_values():
    pd = stats.paired_diff({0: 2.0, 1: float('nan'), 2: 4.0},
                           {0: 1.0, 1: 1.0, 2: 1.0})
    assert pd.seeds == [0, 2] and pd.mean == pytest.approx(2.0)


def test_every_comparison_is_paired_with_its_time_ratio():
    results, meta = [], dict(chosen={'attnfd': {}},
                             proto=dict(ablation_seeds=[0, 1]),
                             attnfd=acc_arms.attnfd_ablation('small')[-1])
    for seed in range(3):
        results += [_run('baseline', seed, 40.0, 40.0 + seed),
                    _run('baseline_2x', seed, 41.0, 41.0 + seed,
                         sec_per_iter=0.1, iters=200),
                    _run('kd', seed, 41.0, 41.5 + seed, sec_per_iter=0.2),
                    _run('attnfd', seed, 42.0, 42.0 + seed + 0.1 * seed,
                         sec_per_iter=0.2),
                    _run('sd', seed, 41.0, 40.5 + seed, sec_per_iter=0.15)]
    lines = acc_targets.target_lines(acc_records.by_arm(results),
                                         100, meta)
    kd = [x for x in lines if x.startswith('AttnFD >= KD')][0]
    # paired: +0.5, +0.6, +0.7 -> an interval, not a comparison of means
    assert '+0.60 [' in kd and '(n=3)' in kd and kd.endswith('met')
    assert 'training time 1.00x the reference (about equal time)' in kd
    head = [x for x in lines if x.startswith('AttnFD (fitted_tensor_w8)')][0]
    assert 'training time 2.00x the reference (NOT equal time)' in head
    equal_time = [x for x in lines if 'at equal training time' in x]
    assert len(equal_time) == 2  # AttnFD and SD against baseline_2x
    sd = [x for x in equal_time if x.startswith('axial SD')][0]
    assert '0.75x' in sd and sd.endswith('missed')  # 40.5 < 41 every seed
    fresh = [x for x in lines if 'did not use' in x]
    assert len(fresh) == 2 and '(seeds 2)' in fresh[0]
    assert 'CWD' not in '\n'.join(lines)  # no CWD runs, no CWD line


def test_saving_keeps_the_finished_runs_of_earlier_invocations(tmp_path):
    import json
    path = tmp_path / 'accuracy_cpu.json'
    earlier = [_run('baseline', 0, 40.0, 39.0), _run('kd', 0, 41.0, 40.0)]
    meta = dict(protocol='cpu', iters=100, teacher_iters=300)
    path.write_text(json.dumps(dict(meta=meta, runs=earlier)))
    now = [_run('kd', 0, 42.0, 41.0), _run('at', 0, 41.0, 40.5)]
    runs = acc_report.merged_runs(str(path), now, meta)
    assert [(r['arm'], r['seed']) for r in runs] == [
        ('kd', 0), ('at', 0), ('baseline', 0)]
    assert runs[0]['test_mIoU'] == 41.0  # this invocation's run wins
    assert acc_report.merged_runs(str(tmp_path / 'none.json'),
                                       now) == now
    # another schedule's file is not mixed in
    assert acc_report.merged_runs(str(path), now,
                                       dict(meta, iters=200)) == now


def test_extra_arms_keep_the_main_command_and_choice(tmp_path):
    import json
    path = tmp_path / 'accuracy_cpu.json'
    main = dict(protocol='cpu', iters=100, teacher_iters=300,
                argv=['--ablation', '--choose-on-val'],
                chosen=dict(attnfd=dict(normalize='tensor')), wall_h=5.0)
    path.write_text(json.dumps(dict(meta=main, runs=[])))
    machine = dict(cpu='x', cores=2)
    extra = dict(main, argv=['--arms', 'at', '--seeds', '0'], chosen=None,
                 wall_h=1.5, machine=machine, failed=[])
    teacher = dict(_run('teacher', 0, 50.0, 49.0), restored_from='x.json')
    meta = acc_report.merged_meta(
        str(path), extra, [teacher, _run('at', 0, 41.0, 40.0)])
    assert meta['argv'] == main['argv'] and meta['chosen'] == main['chosen']
    assert meta['extra_invocations'] == [dict(
        argv=extra['argv'], machine=machine, wall_h=1.5, failed=[])]
    # rerunning it replaces its entry instead of adding one
    path.write_text(json.dumps(dict(meta=meta, runs=[])))
    again = acc_report.merged_meta(str(path), dict(extra, wall_h=0.5),
                                        [_run('at', 0, 41.0, 40.0)])
    assert [e['wall_h'] for e in again['extra_invocations']] == [0.5]
    assert 'Extra arms: `python bench/accuracy/run.py --arms at --seeds 0` ' \
        '(last invoked for 0.50 h).' in acc_render._extra_text(again)
    # a main arm trained: this invocation's meta is the truth
    assert acc_report.merged_meta(
        str(path), extra, [_run('kd', 0, 41.0, 40.0)]) == extra


def test_time_ratio_uses_the_seeds_timed_on_one_cpu(tmp_path):
    # seed 0 of both arms on a fast CPU, seed 1 of attnfd on a slow one:
    # only seed 0 gives a ratio; mixing machines would give 3.0x
    runs = [_run('baseline_2x', 0, 41.0, 41.0, sec_per_iter=0.1, iters=200),
            _run('attnfd', 0, 42.0, 42.0, sec_per_iter=0.2),
            _run('baseline_2x', 1, 41.0, 41.0, sec_per_iter=0.1, iters=200),
            _run('attnfd', 1, 42.0, 42.0, sec_per_iter=0.4)]
    fast, slow = dict(cpu='Fast', cores=2), dict(cpu='Slow', cores=2)
    out = str(tmp_path)
    ledger = acc_records.record_machines(out, 'cpu', runs[:3], fast)
    assert sorted(ledger) == ['attnfd seed 0', 'baseline_2x seed 0',
                              'baseline_2x seed 1']
    # a later machine records only the runs it added; earlier entries stay
    ledger = acc_records.record_machines(out, 'cpu', runs, slow)
    assert ledger['attnfd seed 1'] == 'Slow, 2 cores'
    assert ledger['attnfd seed 0'] == 'Fast, 2 cores'
    assert acc_records.record_machines(out, 'cpu', runs) == ledger
    table = acc_records.by_arm(
        [dict(r, timed_on=ledger[acc_records.run_name(r)])
         for r in runs])
    note = acc_targets._time_note(table, 'attnfd', 'baseline_2x')
    assert note.startswith('; training time 1.00x the reference, seed(s) '
                           '[0] timed on one CPU')
    # without a ledger every seed counts, as before
    plain = acc_targets._time_note(acc_records.by_arm(runs),
                                       'attnfd', 'baseline_2x')
    assert 'training time 1.50x the reference (NOT equal time)' in plain


def test_runs_of_different_cpus_compare_in_student_steps(tmp_path):
    # no seed has both runs on one CPU; raw seconds would say 2.0x
    runs = [_run('baseline_2x', 0, 41.0, 41.0, sec_per_iter=0.1, iters=200),
            _run('attnfd', 0, 42.0, 42.0, sec_per_iter=0.4),
            _run('baseline', 0, 40.0, 40.0, sec_per_iter=0.2)]
    cpus = {'baseline_2x seed 0': 'Fast', 'attnfd seed 0': 'Slow',
            'baseline seed 0': 'Slow'}
    table = acc_records.by_arm(
        [dict(r, timed_on=cpus[acc_records.run_name(r)]) for r in runs])
    assert acc_records.student_step_seconds(table) == {
        'Fast': 0.1, 'Slow': 0.2}
    note = acc_targets._time_note(table, 'attnfd', 'baseline_2x')
    assert note == ('; training time 1.00x the reference, in student steps '
                    'of the CPU of each run (about equal time)')
    # the table's last column: 200 student steps each
    md = acc_tables.main_table(table, ['baseline_2x', 'attnfd'])
    assert [row.split('|')[-2].strip() for row in md.splitlines()[2:]] == [
        '200', '200']
    # a CPU without a student run: indicative only
    del table['baseline']
    note = acc_targets._time_note(table, 'attnfd', 'baseline_2x')
    assert note.endswith('indicative only (NOT equal time)')
    acc_plot.plot(runs, str(tmp_path / 'curves.png'), cpus)
    assert (tmp_path / 'curves.png').stat().st_size > 0


def test_targets_on_fewer_seeds_than_the_protocol_are_provisional():
    results = [_run('baseline', 0, 40.0, 40.0),
               _run('attnfd', 0, 44.0, 44.0), _run('kd', 0, 41.0, 41.0)]
    meta = dict(proto=dict(seeds=[0, 1, 2]))
    lines = acc_targets.target_lines(acc_records.by_arm(results),
                                         100, meta)
    head = [x for x in lines if x.startswith('AttnFD - baseline')][0]
    # one pair has no interval: the CI target cannot be decided yet
    assert head.endswith('-> undecided so far (1 of 3 seeds)')
    kd = [x for x in lines if x.startswith('AttnFD >= KD')][0]
    assert kd.endswith('-> met so far (1 of 3 seeds)')


def test_each_method_readme_gets_its_own_rows_and_targets(tmp_path):
    results = [_run('teacher', 0, 60.0, 55.0)]
    for seed in (0, 1):
        results += [_run('baseline', seed, 40.0, 40.0 + seed),
                    _run('attnfd', seed, 44.0, 44.0 + seed),
                    _run('sd', seed, 41.0, 41.0 + seed,
                         teacher_output_test_mIoU=42.0 + seed,
                         teacher_output_val_mIoU=42.0),
                    _run('ce2', seed, 40.5, 40.5 + seed)]
    results.append(_run('pkd', 0, 43.0, 43.0))
    meta = dict(protocol='cpu', iters=100, teacher_iters=300,
                attnfd=dict(teacher_attention='fitted', normalize='tensor',
                            loss_weight=8.0), sd=dict(target='prob'),
                proto=dict(crop=(180, 240), batch=8, lr=0.05, seeds=[0, 1],
                           student=dict(width=16, output_stride=16),
                           teacher=dict(width=32, output_stride=8)))
    for method, (readme, *_) in acc_render.METHOD_SECTIONS.items():
        path = tmp_path / readme
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f'# {method}\n\n<!-- BEGIN camvid_{method}_cpu -->\n'
                        f'stale\n<!-- END camvid_{method}_cpu -->\ntail\n')
    done = acc_render.write_method_sections(results, meta,
                                                 root=str(tmp_path))
    assert sorted(done) == sorted(
        r for r, *_ in acc_render.METHOD_SECTIONS.values())

    def rows(method):
        text = (tmp_path / acc_render.METHOD_SECTIONS[method][0]
                ).read_text()
        assert 'stale' not in text and text.endswith('tail\n')
        return text, [line.split(' | ')[0].lstrip('| ')
                      for line in text.splitlines() if line.startswith('| ')]

    text, arms_shown = rows('attnfd')
    assert arms_shown == ['arm', 'teacher', 'baseline', 'attnfd']
    assert 'AttnFD (fitted' in text and 'doubled-CE' not in text
    assert 'teacher test mIoU >= baseline + 8' in text
    text, arms_shown = rows('axial_sd')
    assert arms_shown == ['arm', 'baseline', 'ce2', 'sd', 'sd:teacher_output']
    assert 'doubled-CE' in text and 'AttnFD >=' not in text
    # the exported teacher output: +1.0 on both seeds over the student output
    line = [x for x in text.splitlines() if 'teacher output >=' in x][0]
    assert '+1.00 [+1.00, +1.00] (n=2)' in line and line.endswith('-> met')
    text, arms_shown = rows('feature_kd')
    # the main table, then seed 0 of every arm beside the one-seed pkd
    assert arms_shown == ['arm', 'teacher', 'baseline', 'attnfd', 'pkd',
                          'arm', 'baseline', 'attnfd', 'pkd']
    assert '| pkd | 43.00 | +3.00 | -1.00 |' in text
    assert '| arm | test mIoU (seed 0) | - baseline | - attnfd |' in text
    assert 'the std over seeds of the arms with more seeds is up to 0.71' \
        in text  # every 2-seed arm: 1 point apart
    assert 'Targets' not in text
    assert '](../../bench/results/accuracy_cpu.md)' in text
    text, arms_shown = rows('summary')  # the package README, at the root
    assert arms_shown == ['arm', 'teacher', 'baseline', 'ce2', 'attnfd',
                          'sd', 'sd:teacher_output']
    assert '](bench/results/accuracy_cpu.md)' in text
    assert 'AttnFD (fitted' in text and 'doubled-CE' in text
