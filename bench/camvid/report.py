# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Report of the CamVid v2 study: choice on val, test once, the line.

Reads ``camvid_v2_cpu.json`` (``bench/camvid/run.py``) and, for the costs,
``camvid_steptimes_cpu.json`` (``bench/camvid/timing.py``: every arm's
step time from one machine, interleaved). Writes ``camvid_v2_cpu.md``:

* every arm: seeds, test mIoU, final val mIoU, the paired test difference
  to ``baseline`` (95% t-interval), cost in baseline student steps;
* the compute-matched line through ``baseline`` and ``baseline_2x`` (per
  seed: test mIoU gained per baseline step), and every arm's paired
  position above or below it, with the teacher given and with the teacher
  (training + attention fit) amortised over ``--amortise-over`` students;
* the val-based choice within each method family, and whether it changes
  today's defaults (step 5);
* the study's CamVid targets (:data:`TARGETS`), each stated met, missed
  or open from the chosen winners' paired test differences;
* every arm's summed training loss at the end (``loss_last``) against the
  baseline's on the same seed: how large the added terms still are.

In ``bench/results`` the report is also copied into ``bench/README.md``
(section 7).

Example::

    python bench/camvid/report.py            # bench/results/camvid_v2_cpu.*
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench.lib import common, stats, timing  # noqa: E402
from bench.camvid.run import FIT_ITERS  # noqa: E402

#: Each family's arm with today's package defaults (step 5: a default
#: changes only where the family's val winner beats it on val).
TODAY = dict(attnfd='attnfd', axial_sd='sd')

#: Method families whose candidates are chosen between on val.
FAMILIES = dict(
    attnfd=('attnfd', 'attnfd_cwd', 'attnfd_bn_train', 'attnfd_decoder',
            'attnfd_bf16'),
    axial_sd=('sd', 'sd_kl', 'sd_ema', 'sd_half_ce', 'sd_features'),
)


#: Reduced-precision teacher arms and their fp32 twins (issue: a faster
#: teacher becomes the default only where it is faster and the paired test
#: interval over 3 seeds includes 0 or lies above it).
PRECISION_PAIRS = (('attnfd_bf16', 'attnfd'), ('cwd_bf16', 'cwd'))
PRECISION_SEEDS = 3

#: Seeds the candidates are chosen on (the winners then run seed 2 too).
CHOICE_SEEDS = (0, 1)

#: Suffix of the rows that score an axial SD run's teacher output.
TEACHER_OUTPUT = ':teacher_output'

#: Paired seeds a target's verdict needs (the winners' seeds 0-2).
TARGET_SEEDS = 3

#: The study's CamVid targets, declared before their results: (name,
#: family whose val winner is tested, reference: 'line' (the compute-
#: matched line, teacher given) or an arm, what decides 'met': 'interval'
#: (the paired 95% interval above 0) or 'mean' (the mean difference >= 0)).
TARGETS = (
    ('AttnFD family above the compute-matched line', 'attnfd', 'line',
     'interval'),
    ('AttnFD family >= CWD at equal iterations', 'attnfd', 'cwd', 'mean'),
    ('AttnFD family > CWD at equal iterations (stretch)', 'attnfd', 'cwd',
     'interval'),
    ('axial SD student output > CE x2', 'axial_sd', 'ce2', 'interval'),
    ('axial SD student output > label smoothing', 'axial_sd', 'ls',
     'interval'),
)


def by_arm(runs: List[dict]) -> Dict[str, Dict[int, dict]]:
    """``{arm: {seed: record}}``; an axial SD run also gives a row
    ``<arm>:teacher_output`` scoring its axial teacher output (test and
    val), at the run's training cost."""
    out: Dict[str, Dict[int, dict]] = {}
    for r in runs:
        out.setdefault(r['arm'], {})[int(r['seed'])] = r
        if r.get('teacher_output_test_mIoU') is not None:
            out.setdefault(r['arm'] + TEACHER_OUTPUT, {})[int(r['seed'])] = \
                dict(r, test_mIoU=r['teacher_output_test_mIoU'],
                     val=r.get('teacher_output_val') or {})
    return out


def _final_val(r: dict) -> Optional[float]:
    val = r.get('val') or {}
    return val[max(val, key=int)] if val else None


def costs(arms: Dict[str, Dict[int, dict]], steptimes: Optional[dict]
          ) -> Dict[str, dict]:
    """Cost of each arm in baseline runs: iterations x the step
    time ratio of the one-machine timing pass (or, without it, of the runs'
    logged step times, flagged)."""
    base = next(iter(arms.get('baseline', {}).values()), None)
    out = {}
    for arm, seeds in arms.items():
        r = next(iter(seeds.values()))
        run_arm = arm.split(':')[0]  # a teacher-output row: its run's
        timed = (steptimes or {}).get('arms', {}).get(run_arm)
        if timed and 'ratio' in timed:
            ratio, source = timed['ratio']['median'], 'timing pass'
        elif base and base.get('sec_per_iter') and r.get('sec_per_iter'):
            ratio = r['sec_per_iter'] / base['sec_per_iter']
            source = 'logged step times (not one machine)'
        else:
            ratio, source = None, '-'
        iters = r['iters'] / base['iters'] if base else None
        out[arm] = dict(step_ratio=ratio, iters_ratio=iters, source=source,
                        cost=None if ratio is None or iters is None else
                        ratio * iters)
    return out


def teacher_cost(arms, cost) -> Optional[float]:
    """Teacher training + attention fit, in baseline runs (the cost unit:
    one baseline run = its iterations x its step time)."""
    if 'teacher' not in cost or cost['teacher']['cost'] is None:
        return None
    base = next(iter(arms['baseline'].values()))
    fit = cost['teacher']['step_ratio'] * FIT_ITERS / base['iters']
    return cost['teacher']['cost'] + fit


def line_positions(arms, cost, extra: float = 0.0
                   ) -> Dict[str, stats.PairedDiff]:
    """Paired position of every arm relative to the compute-matched line:
    per seed ``test(arm) - (test(base) + slope * (cost(arm) - 1))``, the
    slope through ``baseline`` and ``baseline_2x`` of that seed; ``extra``
    is added to the cost of arms that need the teacher."""
    base, long = arms.get('baseline', {}), arms.get('baseline_2x', {})
    c2 = (cost.get('baseline_2x') or {}).get('cost')
    if not base or not long or not c2:
        return {}
    out = {}
    for arm, seeds in arms.items():
        c = cost[arm]['cost']
        if arm in ('teacher', 'baseline') or c is None:
            continue
        if seeds[next(iter(seeds))].get('uses_teacher'):
            c += extra
        pos = {}
        for s, r in seeds.items():
            if s in base and s in long:
                slope = (long[s]['test_mIoU'] - base[s]['test_mIoU']) / (
                    c2 - 1)
                pos[s] = r['test_mIoU'] - (base[s]['test_mIoU'] +
                                           slope * (c - 1))
        pd = stats.paired_diff(pos, {s: 0.0 for s in pos})
        if pd is not None:
            out[arm] = pd
    return out


def choice_vals(arms, family: str) -> Dict[str, float]:
    """Mean final val mIoU over :data:`CHOICE_SEEDS` of every candidate of
    ``family`` that has one."""
    out = {}
    for name in (n for n in FAMILIES[family] if n in arms):
        val = stats.mean_std([_final_val(r) for s, r in arms[name].items()
                              if s in CHOICE_SEEDS])
        if val is not None:
            out[name] = val.mean
    return out


def choices(arms) -> Dict[str, str]:
    """Per family, the candidate with the best mean final val mIoU over
    :data:`CHOICE_SEEDS` (a winner's later seeds do not re-open the
    choice)."""
    out = {}
    for family in FAMILIES:
        vals = choice_vals(arms, family)
        if vals:
            out[family] = max((v, n) for n, v in vals.items())[1]
    return out


def choice_complete(arms, family: str) -> bool:
    """Whether every candidate of ``family`` that ran has all
    :data:`CHOICE_SEEDS` (before that, the family's choice is
    provisional)."""
    return all(set(CHOICE_SEEDS) <= set(arms[name])
               for name in FAMILIES[family] if name in arms)


def default_verdicts(arms) -> List[dict]:
    """Per family: today's defaults (:data:`TODAY`) against the val winner,
    mean final val mIoU over :data:`CHOICE_SEEDS`; the defaults change only
    where the winner is another arm, chosen once every candidate has every
    choice seed."""
    chosen = choices(arms)
    out = []
    for family, today in TODAY.items():
        winner = chosen.get(family) if choice_complete(arms, family) \
            else None
        vals = {n: v for n, v in choice_vals(arms, family).items()
                if n in (today, winner)}
        if winner is None or today not in vals:
            verdict = ('open: every candidate needs seeds '
                       f'{", ".join(map(str, CHOICE_SEEDS))}')
        elif winner == today:
            verdict = "stays: today's defaults win on val"
        else:
            verdict = (f'change to `{winner}`: val '
                       f'{vals[winner] - vals[today]:+.2f}')
        out.append(dict(family=family, today=today, winner=winner,
                        val=vals, verdict=verdict))
    return out


def precision_verdicts(arms, steptimes: Optional[dict]) -> List[dict]:
    """Per pair of :data:`PRECISION_PAIRS`: the paired test difference
    (reduced - fp32), the per-round step-time ratio of the two arms in the
    timing pass (median, 95% interval) and the pre-declared rule's verdict:
    default on where the ratio's interval lies below 1 and the difference's
    interval reaches 0 or lies above it, over 3 paired seeds."""
    out = []
    timed = (steptimes or {}).get('arms', {})
    for low, full in PRECISION_PAIRS:
        if low not in arms or full not in arms:
            continue
        diff = stats.paired_diff(
            {s: r['test_mIoU'] for s, r in arms[low].items()},
            {s: r['test_mIoU'] for s, r in arms[full].items()})
        ratio = None
        if low in timed and full in timed:
            ratio = timing.ratio_ci(timed[low]['rounds_s'],
                                    timed[full]['rounds_s'])
        n = 0 if diff is None else diff.n
        if n < PRECISION_SEEDS or ratio is None:
            verdict = f'open: {n} of {PRECISION_SEEDS} paired seeds' + (
                '' if ratio is not None else ', no timing pass')
        elif ratio.high >= 1:
            verdict = 'stays an option: not faster'
        elif diff.high < 0:
            verdict = 'stays an option: accuracy lower'
        else:
            verdict = 'default on: faster, accuracy not lower'
        out.append(dict(arm=low, reference=full, diff=diff, ratio=ratio,
                        verdict=verdict))
    return out


def target_verdicts(arms, given: Dict[str, stats.PairedDiff]
                    ) -> List[dict]:
    """Every :data:`TARGETS` entry with its family's val winner, the paired
    test difference (to the line or to the reference arm) and ``met``,
    ``missed`` or ``open`` (fewer than :data:`TARGET_SEEDS` paired seeds)."""
    chosen = choices(arms)
    out = []
    for name, family, ref, rule in TARGETS:
        arm = chosen.get(family) if choice_complete(arms, family) else None
        diff = None
        if arm is not None and ref == 'line':
            diff = given.get(arm)
        elif arm is not None and ref in arms:
            diff = stats.paired_diff(
                {s: r['test_mIoU'] for s, r in arms[arm].items()},
                {s: r['test_mIoU'] for s, r in arms[ref].items()})
        n = 0 if diff is None else diff.n
        if n < TARGET_SEEDS:
            verdict = f'open: {n} of {TARGET_SEEDS} paired seeds'
        elif (diff.low > 0) if rule == 'interval' else (diff.mean >= 0):
            verdict = 'met'
        else:
            verdict = 'missed'
        out.append(dict(target=name, arm=arm, reference=ref, rule=rule,
                        diff=diff, verdict=verdict))
    return out


def end_losses(arms) -> List[dict]:
    """Per trained arm (not the teacher, not a teacher-output row): the
    summed training loss at the end (the records' ``loss_last``, MMEngine's
    mean over the last logging interval) and its paired difference to
    ``baseline``: the terms the arm adds to the task CE (plus any change of
    that CE), so a term that stays large next to the CE is visible."""
    base = {s: r.get('loss_last') for s, r in arms.get('baseline', {}).items()}
    out = []
    for arm, seeds in sorted(arms.items()):
        if arm == 'teacher' or TEACHER_OUTPUT in arm:
            continue
        last = {s: r.get('loss_last') for s, r in seeds.items()
                if r.get('loss_last') is not None}
        if not last:
            continue
        out.append(dict(arm=arm, loss_last=stats.mean_std(last.values()),
                        seeds=len(last),
                        vs_baseline=None if arm == 'baseline' else
                        stats.paired_diff(last, base)))
    return out


def render(data: dict, steptimes: Optional[dict], n_amortise: int) -> str:
    """The markdown report."""
    arms = by_arm(data['runs'])
    cost = costs(arms, steptimes)
    t_cost = teacher_cost(arms, cost)
    given = line_positions(arms, cost)
    amortised = line_positions(arms, cost, (t_cost or 0) / n_amortise)
    base = {s: r['test_mIoU'] for s, r in arms.get('baseline', {}).items()}
    rows = []
    for arm, seeds in sorted(arms.items()):
        test = {s: r['test_mIoU'] for s, r in seeds.items()}
        c = cost[arm]
        rows.append([
            arm, len(seeds),
            stats.format_mean_std(stats.mean_std(test.values())),
            stats.format_mean_std(stats.mean_std(
                [_final_val(r) for r in seeds.values()])),
            '-' if arm in ('teacher', 'baseline') else
            stats.format_paired(stats.paired_diff(test, base)),
            '-' if c['cost'] is None else f'{c["cost"]:.2f}',
            stats.format_paired(given.get(arm)),
            stats.format_paired(amortised.get(arm))])
    commits = sorted({r.get('commit', '?')[:12] for r in data['runs']})
    cost_source = 'the one-machine timing pass' if steptimes else \
        'logged step times, NOT one machine'
    lines = [
        f'Generated from `camvid_v2_cpu.json` by `python '
        f'bench/camvid/report.py` (runs at commit(s) {", ".join(commits)}; '
        f'costs: {cost_source}'
        f'; teacher amortised over N = {n_amortise} students'
        + (f', teacher + fit = {t_cost:.1f} baseline runs' if t_cost
           else '') + ').', '',
        common.md_table(
            ['arm', 'seeds', 'test mIoU', 'final val mIoU',
             'test vs baseline (paired, 95% CI)', 'cost (baseline runs)',
             'vs the line, teacher given', 'vs the line, teacher amortised'],
            rows), '']
    verdicts = precision_verdicts(arms, steptimes)
    if verdicts:
        lines += ['Teacher precision (reduced - fp32, paired test mIoU; '
                  'step-time ratio from the timing pass):', '',
                  common.md_table(
                      ['arm', 'vs', 'test difference (95% CI)',
                       'step time ratio (95% CI)', 'verdict'],
                      [[v['arm'], v['reference'],
                        stats.format_paired(v['diff']),
                        '-' if v['ratio'] is None
                        else timing.format_ci(v['ratio'], 2), v['verdict']]
                       for v in verdicts]), '']
    chosen = choices(arms)
    if chosen:
        lines += ['Chosen on val (best mean final val mIoU of seeds '
                  f'{", ".join(map(str, CHOICE_SEEDS))}): ' + ', '.join(
            f'{k}: `{v}`' + ('' if choice_complete(arms, k) else
                             ' (provisional: not every candidate has '
                             'both seeds)')
            for k, v in chosen.items()) + '.', '']
        lines += ["Defaults (today's against the val winner, mean final val "
                  'mIoU of the choice seeds): ' + '; '.join(
                      f'{d["family"]}: {d["verdict"]}'
                      for d in default_verdicts(arms)) + '.', '']
        rule = dict(interval='paired 95% interval above 0',
                    mean='mean difference >= 0')
        lines += ['Targets (the val winner, paired test mIoU; the line with '
                  'the teacher given):', '', common.md_table(
                      ['target', 'arm', 'vs', 'difference (95% CI)',
                       'met when', 'verdict'],
                      [[t['target'], f'`{t["arm"]}`', t['reference'],
                        stats.format_paired(t['diff']), rule[t['rule']],
                        t['verdict']]
                       for t in target_verdicts(arms, given)]), '']
    ends = end_losses(arms)
    if ends:
        lines += ['Summed training loss at the end (`loss_last`: the mean of '
                  'the last logging interval; minus `baseline` on the same '
                  'seed = the terms the arm adds to the task CE, plus any '
                  'change of that CE):', '', common.md_table(
                      ['arm', 'seeds', 'loss_last', 'minus baseline '
                       '(paired, 95% CI)'],
                      [[e['arm'], e['seeds'],
                        stats.format_mean_std(e['loss_last']),
                        stats.format_paired(e['vs_baseline'])]
                       for e in ends]), '']
    return '\n'.join(lines)


def main(argv=None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--results-dir', default=osp.join(REPO, 'bench',
                                                     'results'))
    p.add_argument('--amortise-over', type=int, default=10)
    a = p.parse_args(argv)
    with open(osp.join(a.results_dir, 'camvid_v2_cpu.json')) as f:
        data = json.load(f)
    path = osp.join(a.results_dir, 'camvid_steptimes_cpu.json')
    steptimes = json.load(open(path)) if osp.isfile(path) else None
    text = render(data, steptimes, a.amortise_over)
    # in bench/results also copied into bench/README.md
    common.save_results(a.results_dir, 'camvid_v2_cpu', text)
    return text


if __name__ == '__main__':
    print(main())
