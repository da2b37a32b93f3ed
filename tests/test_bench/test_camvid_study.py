# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""bench/camvid/run.py (configs of one run) and report.py (the line)."""
import pytest

from bench.camvid import report
from bench.camvid.run import run_cfg


def test_a_run_is_its_config_with_seed_data_init_teacher_and_fit():
    cfg = run_cfg('attnfd_cwd', 'DATA', 3, 1.0, 'init.pth', 'teacher.pth',
                  'fit.pth')
    assert cfg['randomness'] == dict(seed=3)
    assert {cfg[k]['dataset']['data_root'] for k in (
        'train_dataloader', 'val_dataloader', 'test_dataloader')} == {'DATA'}
    model = cfg['model']
    assert model['architecture']['init_cfg'] == dict(type='Pretrained',
                                                     checkpoint='init.pth')
    assert model['teacher_ckpt'] == 'teacher.pth'
    assert model['distiller']['teacher_attention_ckpt'] == 'fit.pth'
    assert model['distiller']['logit_loss_name'] == 'loss_cwd'  # the v2 arm
    assert cfg['train_cfg']['max_iters'] == 2000
    plain = run_cfg('ls', 'DATA', 0, 0.01, 'init.pth')
    assert plain['model']['init_cfg']['checkpoint'] == 'init.pth'
    assert plain['model']['decode_head']['loss_decode']['type'] == \
        'LabelSmoothCrossEntropyLoss'
    assert plain['train_cfg']['max_iters'] == 20  # a smoke schedule
    assert all(s['end'] <= 20 for s in plain['param_scheduler'])


def _runs():
    out = []

    def add(arm, tests, iters=2000, sec=1.0, teacher=False, val=None):
        for seed, t in enumerate(tests):
            out.append(dict(arm=arm, seed=seed, iters=iters, test_mIoU=t,
                            sec_per_iter=sec, uses_teacher=teacher,
                            val={'2000': (val or t) + 5}, commit='c' * 40))
    add('teacher', [60.0], iters=6000, sec=3.0)
    add('baseline', [40.0, 41.0, 42.0])
    add('baseline_2x', [44.0, 45.0, 46.0], iters=4000)
    add('attnfd', [46.0, 47.5, 48.0], sec=1.9, teacher=True)
    add('attnfd_cwd', [45.0, 46.0, 47.0], sec=2.0, teacher=True, val=50)
    return dict(runs=out)


def test_positions_on_the_compute_matched_line():
    steptimes = dict(arms=dict(
        baseline=dict(ratio=dict(median=1.0)),
        baseline_2x=dict(ratio=dict(median=1.0)),
        teacher=dict(ratio=dict(median=3.0)),
        attnfd=dict(ratio=dict(median=1.9)),
        attnfd_cwd=dict(ratio=dict(median=2.0))))
    arms = report.by_arm(_runs()['runs'])
    cost = report.costs(arms, steptimes)
    assert cost['baseline_2x']['cost'] == pytest.approx(2.0)
    assert cost['attnfd']['cost'] == pytest.approx(1.9)
    given = report.line_positions(arms, cost)
    # slope 4 per baseline run; the line at 1.9 is baseline + 3.6
    assert given['attnfd'].mean == pytest.approx((6 + 6.5 + 6) / 3 - 3.6)
    assert given['baseline_2x'].mean == pytest.approx(0.0)
    teacher = report.teacher_cost(arms, cost)  # 3 x 3 + 3 x 500/2000
    assert teacher == pytest.approx(9.75)
    amortised = report.line_positions(arms, cost, teacher / 10)
    assert amortised['attnfd'].mean == pytest.approx(
        given['attnfd'].mean - 4 * 0.975)
    text = report.render(_runs(), steptimes, 10)
    # chosen on val: attnfd_cwd has the better val, attnfd the better test
    assert 'attnfd: `attnfd_cwd`' in text
    assert '| attnfd | 3 |' in text and 'one-machine timing pass' in text
    # without the timing pass the report says its costs are not comparable
    assert 'NOT one machine' in report.render(_runs(), None, 10)


def test_axial_sd_runs_also_score_their_teacher_output():
    runs = _runs()['runs']
    for seed, (student, teacher) in enumerate([(41.0, 42.0), (42.0, 43.5),
                                               (43.0, 43.5)]):
        runs.append(dict(arm='sd', seed=seed, iters=2000, test_mIoU=student,
                         teacher_output_test_mIoU=teacher, sec_per_iter=1.3,
                         uses_teacher=False, val={'2000': student + 5},
                         teacher_output_val={'2000': teacher + 5},
                         commit='c' * 40))
    steptimes = dict(arms=dict(baseline=dict(ratio=dict(median=1.0)),
                               baseline_2x=dict(ratio=dict(median=1.0)),
                               sd=dict(ratio=dict(median=1.3))))
    arms = report.by_arm(runs)
    out = arms['sd' + report.TEACHER_OUTPUT]
    assert [out[s]['test_mIoU'] for s in range(3)] == [42.0, 43.5, 43.5]
    assert report._final_val(out[1]) == 48.5  # the teacher output's val
    cost = report.costs(arms, steptimes)
    # the teacher output costs what its run cost, from the timing pass
    assert cost['sd:teacher_output'] == cost['sd']
    assert cost['sd']['source'] == 'timing pass'
    given = report.line_positions(arms, cost)
    # line at cost 1.3: baseline + 4 * 0.3 = baseline + 1.2 (slope 4)
    assert given['sd:teacher_output'].mean == pytest.approx(
        (2.0 + 2.5 + 1.5) / 3 - 1.2)
    assert '| sd:teacher_output | 3 |' in report.render(
        dict(runs=runs), steptimes, 10)


def test_the_teacher_is_found_in_the_work_root_by_its_hash(tmp_path):
    """Records name files outside the repository by their base name only;
    the study finds the teacher's plain weights by the recorded SHA-256."""
    import argparse
    import hashlib
    import json
    from bench.camvid.run import Study
    root, out = tmp_path / 'work', tmp_path / 'results'
    (root / 'camvid240').mkdir(parents=True)
    (root / 'camvid240' / '.complete').write_text('ok')
    (root / 'teacher_seed0').mkdir()
    weights = root / 'teacher_seed0' / 'teacher_plain.pth'
    weights.write_bytes(b'weights')
    out.mkdir()
    rec = dict(key='teacher_seed0', arm='teacher', seed=0,
               plain_checkpoint='<outside the repository>/teacher_plain.pth',
               plain_sha256=hashlib.sha256(b'weights').hexdigest())
    (out / 'camvid_v2_cpu.json').write_text(json.dumps(dict(runs=[rec])))
    args = argparse.Namespace(work_root=str(root), out_dir=str(out),
                              data_root='unused', iters_scale=1.0)
    assert Study(args).teacher()['plain_checkpoint'] == str(weights)
    weights.write_bytes(b'other weights')
    with pytest.raises(SystemExit, match='no such file'):
        Study(args).teacher()


def test_the_choice_on_val_uses_seeds_0_and_1_only():
    runs = _runs()['runs']  # attnfd_cwd: val 55 on seeds 0-2
    # attnfd's seed 2 alone would lift its mean val above attnfd_cwd's
    for r in runs:
        if r['arm'] == 'attnfd' and r['seed'] == 2:
            r['val'] = {'2000': 200.0}
    assert report.choices(report.by_arm(runs)) == dict(attnfd='attnfd_cwd')
    # a family with no candidate on seeds 0-1 has no choice yet
    late = [dict(r, seed=2) for r in runs if r['arm'] == 'attnfd_cwd']
    assert report.choices(report.by_arm(late)) == {}


def test_the_plan_runs_the_declared_arms_and_the_winners_on_seed_2():
    from bench.camvid import plan
    from bench.camvid.arms import ARMS, V2_ARMS
    assert set(plan.phase_arms('seed0')) == set(ARMS) | set(V2_ARMS)
    seed1 = plan.phase_arms('seed1')
    for names in report.FAMILIES.values():
        assert set(names) <= set(seed1)
    assert {'baseline', 'baseline_2x', 'ce2', 'ls', 'cwd_bf16'} <= set(seed1)
    assert 'kd' not in seed1 and 'teacher' not in seed1
    runs = _runs()['runs']
    runs += [dict(arm='sd_features', seed=s, iters=2000, test_mIoU=40.0,
                  val={'2000': 50.0}) for s in (0, 1)]
    runs += [dict(arm='sd', seed=s, iters=2000, test_mIoU=40.0,
                  val={'2000': 49.0}) for s in (0, 1)]
    seed2 = plan.phase_arms('seed2', dict(runs=runs))
    assert seed2[:2] == ['attnfd_cwd', 'sd_features']  # the winners
    assert len(seed2) == len(set(seed2))  # attnfd is also a precision pair
    assert 'sd' not in seed2 and 'attnfd_bf16' in seed2
    with pytest.raises(SystemExit, match='phase seed1 has not finished'):
        plan.phase_arms('seed2', _runs())  # no axial SD candidate yet
    with pytest.raises(ValueError, match='trains nothing'):
        plan.phase_arms('timing')


def test_the_plan_calls_the_frozen_clone_phase_by_phase(tmp_path,
                                                        monkeypatch):
    from bench.camvid import plan
    calls = []
    monkeypatch.setattr(plan, '_run', lambda cmd, repo: calls.append(
        (cmd[1:], repo)))
    args = ['--repo', str(tmp_path / 'frozen'), '--data-root', 'camvid',
            '--work-root', str(tmp_path), '--out-dir', str(tmp_path)]
    plan.main(args + ['--through', 'seed1'])
    assert [c[0][0] for c in calls] == [
        'bench/camvid/run.py', 'bench/camvid/timing.py', 'bench/camvid/run.py']
    assert {c[1] for c in calls} == {str(tmp_path / 'frozen')}
    seed0, timing, seed1 = (c[0] for c in calls)
    assert seed0[seed0.index('--seeds') + 1] == '0'
    assert seed1[seed1.index('--seeds') + 1] == '1'
    assert timing[timing.index('--data-root') + 1] == str(
        tmp_path / 'camvid240')
    # once the step times exist the timing pass is not repeated
    (tmp_path / 'camvid_steptimes_cpu.json').write_text('{}')
    calls.clear()
    plan.main(args + ['--through', 'timing'])
    assert [c[0][0] for c in calls] == ['bench/camvid/run.py']


def test_the_sstem_phase_runs_the_axial_sd_winner_over_the_committed_runs(
        tmp_path, monkeypatch):
    import json
    from bench.camvid import plan
    calls = []
    monkeypatch.setattr(plan, '_run', lambda cmd, repo: calls.append(cmd))
    # no runs of the phase committed yet (the repository's own may exist)
    monkeypatch.setattr(plan, 'SSTEM_V2_RECORDS', str(tmp_path / 'none'))
    frozen = tmp_path / 'frozen'
    (frozen / 'bench' / 'results').mkdir(parents=True)
    (frozen / 'bench' / 'results' / 'sstem_study_cpu.json').write_text(
        '{"runs": []}')
    (tmp_path / 'camvid_steptimes_cpu.json').write_text('{}')
    runs = _runs()['runs'] + [
        dict(arm=arm, seed=s, iters=2000, test_mIoU=40.0, val={'2000': v})
        for arm, v in (('sd_kl', 50.0), ('sd', 49.0)) for s in (0, 1)]
    (tmp_path / 'camvid_v2_cpu.json').write_text(json.dumps(dict(runs=runs)))
    args = ['--repo', str(frozen), '--data-root', 'camvid',
            '--work-root', str(tmp_path), '--out-dir', str(tmp_path)]
    with pytest.raises(SystemExit):  # the ssTEM data is required up front
        plan.main(args)
    plan.main(args + ['--sstem-data-root', 'sstem'])
    sstem = calls[-1]
    assert sstem[1] == 'bench/sstem/run.py'
    assert sstem[sstem.index('--sd-v2') + 1] == 'sd_kl'
    out = tmp_path / 'sstem-v2'
    assert sstem[sstem.index('--out-dir') + 1] == str(out)
    # the committed baseline and CE x2 runs are there to be restored
    assert (out / 'sstem_study_cpu.json').read_text() == '{"runs": []}'
    # the phase's own committed records win once an earlier session left some
    (out / 'sstem_study_cpu.json').unlink()
    own = tmp_path / 'sstem_sd_v2_cpu.json'
    own.write_text('{"runs": [{"arm": "sd"}]}')
    monkeypatch.setattr(plan, 'SSTEM_V2_RECORDS', str(own))
    plan.main(args + ['--sstem-data-root', 'sstem'])
    assert (out / 'sstem_study_cpu.json').read_text() == own.read_text()
    # today's sd winning leaves nothing to train
    assert plan.phase_arms('sstem', dict(runs=[
        dict(r, val={'2000': 99.0}) if r['arm'] == 'sd' else r
        for r in runs])) == []


def _study(tmp_path):
    import argparse
    from bench.camvid.run import Study
    root, out = tmp_path / 'work', tmp_path / 'results'
    (root / 'camvid240').mkdir(parents=True)
    (root / 'camvid240' / '.complete').write_text('ok')
    out.mkdir()
    args = argparse.Namespace(work_root=str(root), out_dir=str(out),
                              data_root='unused', iters_scale=0.01,
                              arms=None)
    return Study(args)


def test_each_stage_set_gets_its_own_fitted_attention(tmp_path, monkeypatch):
    """A fitted file holds one CBAM per stage: the decoder-only arm cannot
    read the file of the package's stage set (it stopped the study once)."""
    from mmengine.config import Config

    from bench.camvid import run as camvid_run
    study = _study(tmp_path)
    monkeypatch.setattr(study, 'teacher',
                        lambda: dict(plain_checkpoint='teacher.pth'))
    fits = []

    def fake_fit(cmd, log):
        fits.append(Config.fromfile(cmd[2]).model.distiller)
        with open(cmd[cmd.index('--out') + 1], 'w') as f:
            f.write('fitted')
    monkeypatch.setattr(camvid_run.runs, 'run_logged', fake_fit)
    default = study.fitted('attnfd')
    assert default.endswith('fit_attention/teacher_attention.pth')
    assert study.fitted('attnfd_cwd') == default  # same stages: no refit
    decoder = study.fitted('attnfd_decoder')
    assert decoder != default and len(fits) == 2
    assert fits[1]['stages'] == ['decode_head.bottleneck',
                                 'decode_head.sep_bottleneck']
    assert fits[0].get('stages', 'auto') == 'auto'
    assert study.fitted('attnfd_decoder') == decoder and len(fits) == 2


def test_a_failed_run_does_not_stop_the_others(tmp_path, monkeypatch):
    from bench.camvid import run as camvid_run
    trained = []

    def fake_run(self, arm, seed):
        if arm == 'kd':
            raise camvid_run.runs.RunFailed('kd broke')
        trained.append(arm)
        return dict(arm=arm, seed=seed)
    (tmp_path / 'work' / 'camvid240').mkdir(parents=True)
    (tmp_path / 'work' / 'camvid240' / '.complete').write_text('ok')
    monkeypatch.setattr(camvid_run.Study, 'run', fake_run)
    with pytest.raises(SystemExit, match=r"1 run\(s\) failed: \['kd_seed0'\]"):
        camvid_run.main(['--data-root', 'unused', '--seeds', '0', '--arms',
                         'baseline', 'kd', 'cwd', '--work-root',
                         str(tmp_path / 'work'), '--out-dir',
                         str(tmp_path / 'results')])
    assert trained == ['baseline', 'cwd']


def test_the_reduced_precision_teacher_verdict_follows_the_declared_rule():
    runs = _runs()['runs']

    def add(arm, tests):
        runs.extend(dict(arm=arm, seed=s, iters=2000, test_mIoU=t,
                         val={'2000': t}) for s, t in enumerate(tests))
    add('attnfd_bf16', [46.1, 47.3, 48.2])  # attnfd: 46.0, 47.5, 48.0
    arms = report.by_arm(runs)
    steptimes = dict(arms=dict(
        attnfd=dict(rounds_s=[1.0, 1.1, 1.0, 1.05, 1.0]),
        attnfd_bf16=dict(rounds_s=[0.8, 0.85, 0.78, 0.8, 0.82])))
    (v, ) = report.precision_verdicts(arms, steptimes)
    assert v['diff'].n == 3
    assert v['diff'].mean == pytest.approx(0.1 / 3)
    assert v['ratio'].high < 1
    assert v['verdict'] == 'default on: faster, accuracy not lower'
    # not faster in every round: stays an option whatever the accuracy
    steptimes['arms']['attnfd_bf16']['rounds_s'] = [0.8, 1.2, 1.1, 0.9, 1.3]
    (v, ) = report.precision_verdicts(arms, steptimes)
    assert v['verdict'] == 'stays an option: not faster'
    # a clearly lower test mIoU keeps fp32 the default
    for r in runs:
        if r['arm'] == 'attnfd_bf16':
            r['test_mIoU'] -= 3 + 0.1 * r['seed']
    steptimes['arms']['attnfd_bf16']['rounds_s'] = [0.8] * 5
    (v, ) = report.precision_verdicts(report.by_arm(runs), steptimes)
    assert v['verdict'] == 'stays an option: accuracy lower'
    # fewer than 3 seeds or no timing pass: no verdict yet
    (v, ) = report.precision_verdicts(report.by_arm(runs[:-1]), None)
    assert v['verdict'] == 'open: 2 of 3 paired seeds, no timing pass'
    assert 'Teacher precision' in report.render(dict(runs=runs), None, 10)


def test_the_targets_are_judged_on_the_val_winners_over_3_seeds():
    runs = _runs()['runs']  # attnfd_cwd wins its family on val

    def add(arm, tests, val=None):
        runs.extend(dict(arm=arm, seed=s, iters=2000, test_mIoU=t,
                         val={'2000': val or t}) for s, t in enumerate(tests))
    add('cwd', [44.0, 46.5, 46.0])  # attnfd_cwd: 45.0, 46.0, 47.0
    add('sd', [42.0, 43.5, 43.0], val=60)  # the axial SD winner on val
    add('sd_kl', [50.0, 50.0, 50.0], val=1)
    add('ce2', [41.0, 42.4, 42.1])  # sd - ce2: +1.0, +1.1, +0.9
    add('ls', [42.5, 43.0, 43.5])  # sd - ls: -0.5, +0.5, -0.5
    steptimes = dict(arms={a: dict(ratio=dict(median=1.0)) for a in (
        'baseline', 'baseline_2x', 'attnfd_cwd', 'cwd', 'sd', 'ce2', 'ls')})
    arms = report.by_arm(runs)
    given = report.line_positions(arms, report.costs(arms, steptimes))
    got = {t['target']: t for t in report.target_verdicts(arms, given)}
    assert [t[0] for t in report.TARGETS] == list(got)
    line = got['AttnFD family above the compute-matched line']
    # at cost 1 the line is the baseline: +5 on every seed
    assert line['arm'] == 'attnfd_cwd' and line['verdict'] == 'met'
    assert line['diff'].low == pytest.approx(5.0)
    mean = got['AttnFD family >= CWD at equal iterations']
    assert mean['diff'].mean == pytest.approx(0.5)  # +1, -0.5, +1
    assert mean['verdict'] == 'met'
    assert got['AttnFD family > CWD at equal iterations (stretch)'][
        'verdict'] == 'missed'  # the interval reaches below 0
    ce2 = got['axial SD student output > CE x2']
    assert ce2['arm'] == 'sd' and ce2['verdict'] == 'met'
    assert ce2['diff'].low > 0
    assert got['axial SD student output > label smoothing'][
        'verdict'] == 'missed'
    # two paired seeds are not a verdict
    early = report.by_arm([r for r in runs if r['seed'] < 2])
    assert {t['verdict'] for t in report.target_verdicts(early, {})} == {
        'open: 2 of 3 paired seeds', 'open: 0 of 3 paired seeds'}
    assert '| axial SD student output > CE x2 | `sd` | ce2 |' in \
        report.render(dict(runs=runs), steptimes, 10)


def test_a_default_changes_only_where_the_val_winner_is_another_arm():
    runs = _runs()['runs']  # val: attnfd 51/52.5/53, attnfd_cwd 55 x3

    def add(arm, vals):
        runs.extend(dict(arm=arm, seed=s, iters=2000, test_mIoU=40.0,
                         val={'2000': v}) for s, v in enumerate(vals))
    add('sd', [47.0, 48.0])
    add('sd_kl', [46.0, 47.5])
    got = {d['family']: d for d in report.default_verdicts(
        report.by_arm(runs))}
    assert got['attnfd']['winner'] == 'attnfd_cwd'
    assert got['attnfd']['val'] == dict(attnfd=51.75, attnfd_cwd=55.0)
    assert got['attnfd']['verdict'] == 'change to `attnfd_cwd`: val +3.25'
    assert got['axial_sd']['verdict'] == "stays: today's defaults win on val"
    # the winner's second choice seed missing: no decision yet
    early = [r for r in runs if not (r['arm'] == 'sd' and r['seed'] == 1)]
    got = {d['family']: d for d in report.default_verdicts(
        report.by_arm(early))}
    assert got['axial_sd']['verdict'].startswith('open')


def test_a_choice_is_provisional_until_every_candidate_has_both_seeds():
    runs = _runs()['runs']
    runs.append(dict(arm='attnfd_bn_train', seed=0, iters=2000,
                     test_mIoU=50.0, val={'2000': 70.0}))
    arms = report.by_arm(runs)
    assert not report.choice_complete(arms, 'attnfd')
    assert report.choices(arms)['attnfd'] == 'attnfd_bn_train'
    (attnfd, ) = [d for d in report.default_verdicts(arms)
                  if d['family'] == 'attnfd']
    assert attnfd['verdict'] == 'open: every candidate needs seeds 0, 1'
    family = [t for t in report.target_verdicts(arms, {})
              if t['target'].startswith('AttnFD')]
    assert len(family) == 3 and all(
        t['arm'] is None and t['verdict'] == 'open: 0 of 3 paired seeds'
        for t in family)
    assert '(provisional' in report.render(dict(runs=runs), None, 10)


def test_the_end_of_training_loss_is_paired_with_the_baseline():
    runs = _runs()['runs']
    for r in runs:  # attnfd's feature term stays large next to the CE
        r['loss_last'] = dict(baseline=0.5, attnfd=5.5).get(r['arm'], 1.0) \
            + 0.1 * r['seed']
    runs.append(dict(runs[-1], arm='sd', teacher_output_test_mIoU=40.0))
    del runs[-2]['loss_last']  # an old record without it is left out
    ends = {e['arm']: e for e in report.end_losses(report.by_arm(runs))}
    assert 'teacher' not in ends and 'sd' + report.TEACHER_OUTPUT not in ends
    assert ends['baseline']['vs_baseline'] is None
    assert ends['attnfd']['vs_baseline'].mean == pytest.approx(5.0)
    assert ends['attnfd']['vs_baseline'].n == 3
    assert ends['attnfd_cwd']['seeds'] == 2
    assert ends['attnfd_cwd']['loss_last'].mean == pytest.approx(1.05)
    text = report.render(dict(runs=runs), None, 10)
    assert '| attnfd | 3 | 5.60 +- 0.10 | +5.00 [+5.00, +5.00] (n=3) |' in text
