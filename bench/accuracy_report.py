# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Tables, targets, plot and the val-based choice of ``accuracy.py``.

Numbers on test are reported once per finished run (its final checkpoint);
every choice (AttnFD and axial-SD settings) is made on val.
"""
import functools
import json
import os
import os.path as osp
import statistics
from typing import Dict, List, Optional, Tuple

from bench import camvid_arms as arms
from bench import common
from bench.stats import format_mean_std, format_paired, mean_std, paired_diff

#: Pseudo-arm suffix of the exported axial teacher output of a run.
TEACHER_OUTPUT = ':teacher_output'


def expand(results: List[dict]) -> List[dict]:
    """Runs plus one pseudo-run per exported axial teacher output."""
    out = []
    for r in results:
        out.append(r)
        if 'teacher_output_test_mIoU' in r:
            out.append(dict(
                arm=r['arm'] + TEACHER_OUTPUT, seed=r['seed'],
                iters=r['iters'], test_mIoU=r['teacher_output_test_mIoU'],
                val_final=r.get('teacher_output_val_mIoU'),
                train_seconds=r.get('train_seconds', {}),
                sec_per_iter=r.get('sec_per_iter'),
                timed_on=r.get('timed_on'), val={}))
    return out


def by_arm(results: List[dict]) -> Dict[str, Dict[int, dict]]:
    table: Dict[str, Dict[int, dict]] = {}
    for r in expand(results):
        table.setdefault(r['arm'], {})[r['seed']] = r
    return table


def _values(runs: Dict[int, dict], key: str) -> Dict[int, float]:
    return {s: r[key] for s, r in runs.items() if r.get(key) is not None}


def _final_seconds(r: dict) -> Optional[float]:
    """Training seconds of a run: median seconds/iteration x iterations.

    The median is robust to iterations slowed by other jobs or by a pause of
    the protocol (a run may be suspended while a latency benchmark runs).
    """
    if r.get('sec_per_iter') and r.get('iters'):
        return r['sec_per_iter'] * r['iters']
    return None


#: Arms that train the plain student; their step time is the unit of cost.
STUDENT_ARMS = ('baseline', 'baseline_2x')


def student_step_seconds(
        table: Dict[str, Dict[int, dict]]) -> Dict[Optional[str], float]:
    """Median s/iteration of the plain student per CPU that timed it
    (``timed_on``; None when no ledger): the unit of :func:`_student_steps`."""
    per: Dict[Optional[str], List[float]] = {}
    for arm in STUDENT_ARMS:
        for r in table.get(arm, {}).values():
            if r.get('sec_per_iter'):
                per.setdefault(r.get('timed_on'), []).append(
                    r['sec_per_iter'])
    return {cpu: statistics.median(v) for cpu, v in per.items()}


def _student_steps(r: dict, unit: Dict[Optional[str], float],
                   iters: Optional[int] = None) -> Optional[float]:
    """Training time of run ``r`` (its first ``iters`` iterations) in steps
    of the plain student on the same CPU; comparable across machines as
    long as they slow every model alike. None without a unit."""
    u, spi = unit.get(r.get('timed_on')), r.get('sec_per_iter')
    n = r.get('iters') if iters is None else iters
    return spi * n / u if u and spi and n else None


def choose_on_val(results: List[dict]) -> Dict[str, Optional[Dict]]:
    """Best AttnFD and axial-SD ablation settings by mean final val mIoU.

    Returns:
        dict: ``attnfd``/``sd`` settings (None when no ablation run
        finished), and ``attnfd_scores``/``sd_scores`` ``{arm: mean}``.
    """
    table = by_arm(results)
    out: Dict[str, Optional[Dict]] = {}
    attnfd = {arms.attnfd_name(s): s for size in ('full', 'small')
              for s in arms.attnfd_ablation(size)}
    for key, grid, namer in (('attnfd', list(attnfd.values()),
                              arms.attnfd_name),
                             ('sd', arms.sd_ablation(), arms.sd_name)):
        scores = {}
        for s in grid:
            ms = mean_std(_values(table.get(namer(s), {}),
                                  'val_final').values())
            if ms is not None:
                scores[namer(s)] = (ms.mean, s)
        if scores:
            best = max(scores, key=lambda n: scores[n][0])
            out[key] = dict(scores[best][1])
        else:
            out[key] = None
        out[f'{key}_scores'] = {n: round(v[0], 2) for n, v in scores.items()}
    return out


# ---------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------
def main_table(table: Dict[str, Dict[int, dict]], order: List[str]) -> str:
    base = _values(table.get('baseline', {}), 'test_mIoU')
    unit = student_step_seconds(table)
    rows = []
    for arm in order:
        runs = table.get(arm)
        if not runs:
            continue
        test = _values(runs, 'test_mIoU')
        secs = [_final_seconds(r) for r in runs.values()]
        steps = [_student_steps(r, unit) for r in runs.values()]
        spi = [r.get('sec_per_iter') for r in runs.values()]
        rows.append([
            arm, len(runs),
            format_mean_std(mean_std(test.values())),
            format_mean_std(mean_std(_values(runs, 'val_final').values())),
            # the teacher does not start from the paired student weights
            '0' if arm == 'baseline' else '-' if arm == 'teacher'
            else format_paired(paired_diff(test, base)),
            format_mean_std(mean_std(secs), 0),
            f'{statistics.median([v for v in spi if v]):.3f}'
            if any(spi) else '-',
            format_mean_std(mean_std([v for v in steps if v]), 0)
        ])
    return common.md_table(
        ['arm', 'seeds', 'test mIoU', 'final val mIoU',
         'test vs baseline (paired, 95% CI)', 'train s', 's/iter',
         'train time (student steps)'], rows)


#: Arms the one-seed extra arms are compared with on their seed.
ONE_SEED_REFS = ('baseline', 'kd', 'cwd', 'attnfd')


def one_seed_lines(table: Dict[str, Dict[int, dict]],
                   order: List[str]) -> List[str]:
    """The extra arms (one seed) beside every arm on that same seed: a
    one-seed arm next to 3-seed means compares seeds, not methods."""
    extra = [a for a in arms.EXTRA_ARMS if a in table and a in order]
    seeds = sorted({s for a in extra for s in table[a]})
    if len(seeds) != 1:
        return []
    seed = seeds[0]
    test = {a: table[a][seed]['test_mIoU'] for a in order
            if seed in table.get(a, {}) and a != 'teacher'}
    refs = [r for r in ONE_SEED_REFS if r in test]
    rows = [[a, f'{v:.2f}'] + [f'{v - test[r]:+.2f}' if a != r else '0'
                               for r in refs] for a, v in test.items()]
    spread = [statistics.stdev(v.values()) for v in (
        _values(table[a], 'test_mIoU') for a in order if a in table)
        if len(v) > 1]
    noise = (f'; the std over seeds of the arms with more seeds is up to '
             f'{max(spread):.2f} points' if spread else '')
    return [f'Seed {seed} of every arm (the extra arms ran that seed only; '
            f'one pair, no interval{noise}):', '',
            common.md_table(['arm', f'test mIoU (seed {seed})'] +
                            [f'- {r}' for r in refs], rows), '']


def ablation_table(table: Dict[str, Dict[int, dict]], grid: List[Dict],
                   namer, chosen: Optional[Dict],
                   main: Optional[Dict] = None,
                   main_arm: str = '') -> str:
    """One row per setting; a setting equal to the main arm's (``main``)
    shows that arm's runs (the protocol does not train it twice)."""
    rows = []
    for s in grid:
        runs = table.get(namer(s))
        if not runs and main and namer(main) == namer(s):
            runs = table.get(main_arm)
        if not runs:
            continue
        mark = ' (chosen)' if chosen and namer(chosen) == namer(s) else ''
        rows.append([
            namer(s) + mark, len(runs),
            format_mean_std(mean_std(_values(runs, 'val_final').values())),
            format_mean_std(mean_std(_values(runs, 'test_mIoU').values()))
        ])
    return common.md_table(
        ['setting', 'seeds', 'final val mIoU (choice)', 'test mIoU'], rows)


def _verdict(ok: Optional[bool]) -> str:
    return 'undecided' if ok is None else ('met' if ok else 'missed')


def _seconds(runs: Dict[int, dict]) -> Dict[int, float]:
    return {s: v for s, v in ((s, _final_seconds(r)) for s, r in runs.items())
            if v is not None}


def _time_note(table: Dict[str, Dict[int, dict]], arm: str,
               ref: str) -> str:
    """Training time of ``arm`` over ``ref`` and whether equal iterations
    are also (about) equal training time.

    A resumed protocol may time its runs on machines of different speed
    (``timed_on``), so the ratio uses, in this order: the seeds whose two
    runs were timed on one CPU; else every seed in student steps
    (:func:`_student_steps`); else raw seconds, marked indicative only.
    """
    a, b = table.get(arm, {}), table.get(ref, {})
    ta, tb = _seconds(a), _seconds(b)
    seeds = sorted(set(ta) & set(tb))
    if not seeds:
        return ''
    same = [s for s in seeds
            if a[s].get('timed_on') == b[s].get('timed_on')]
    unit = student_step_seconds(table)
    steps = {s: (_student_steps(a[s], unit), _student_steps(b[s], unit))
             for s in seeds}
    if same:
        use, where = same, ('' if len(same) == len(seeds) else
                            f', seed(s) {same} timed on one CPU')
    elif all(x and y for x, y in steps.values()):
        ta = {s: x for s, (x, _) in steps.items()}
        tb = {s: y for s, (_, y) in steps.items()}
        use, where = seeds, ', in student steps of the CPU of each run'
    else:
        use, where = seeds, (', each seed timed on different CPUs: '
                             'indicative only')
    ratio = statistics.mean(ta[s] for s in use) / \
        statistics.mean(tb[s] for s in use)
    verdict = 'about equal time' if 0.87 <= ratio <= 1.15 \
        else 'NOT equal time'
    return f'; training time {ratio:.2f}x the reference{where} ({verdict})'


def _compare(table: Dict[str, Dict[int, dict]], arm: str, ref: str,
             label: str, need: float = 0.0, strict: bool = False,
             ci: bool = False, seeds: int = 0,
             info: bool = False) -> Optional[str]:
    """A target on the paired test difference ``arm - ref``: its mean
    ``>= need`` (``> need`` if ``strict``), and with ``ci`` the whole 95%
    interval above 0 (undecided on one pair). With fewer pairs than the
    protocol's ``seeds`` the verdict says it is provisional; a target met
    by a mean whose interval includes 0 says so. With ``info``
    the difference is reported without a target."""
    test = {a: _values(table.get(a, {}), 'test_mIoU') for a in (arm, ref)}
    pd = paired_diff(test[arm], test[ref])
    if pd is None:
        return None
    if info:
        return (f'{label}: {format_paired(pd)}{_time_note(table, arm, ref)}'
                ' (information, no target)')
    ok: Optional[bool] = pd.mean > need if strict else pd.mean >= need
    if ci:
        ok = None if pd.low is None else ok and pd.above_zero
    verdict = _verdict(ok)
    if ok and not ci and pd.low is not None and not pd.above_zero:
        # a mean-only target: say when seed noise could have decided it
        verdict += ' by the mean only (the 95% interval includes 0)'
    if pd.n < seeds:
        verdict += f' so far ({pd.n} of {seeds} seeds)'
    return (f'{label}: {format_paired(pd)}{_time_note(table, arm, ref)} '
            f'-> {verdict}')


#: Groups of :func:`target_lines`: the protocol's own checks and each
#: method's targets.
TARGET_GROUPS = ('protocol', 'attnfd', 'sd')


def target_lines(table: Dict[str, Dict[int, dict]], iters: int,
                 meta: Optional[Dict] = None,
                 groups: Tuple[str, ...] = TARGET_GROUPS) -> List[str]:
    """The issue's targets, each stated as met or missed: paired test
    differences over seeds, at equal iterations with the training-time
    ratio, and against ``baseline_2x`` at equal training time. ``groups``
    (of :data:`TARGET_GROUPS`) selects whose targets are listed."""
    meta = meta or {}
    test = {a: _values(r, 'test_mIoU') for a, r in table.items()}
    mean = {a: statistics.mean(v.values()) for a, v in test.items() if v}
    out = []  # (group, line)
    base, teacher = mean.get('baseline'), mean.get('teacher')
    if base is not None and teacher is not None:
        out.append(('protocol', f'teacher test mIoU >= baseline + 8: '
                    f'{teacher:.2f} vs {base:.2f} + 8 -> '
                    f'{_verdict(teacher >= base + 8)}'))
    if 'baseline' in table:
        gains = []
        for r in table['baseline'].values():
            val = {int(k): v for k, v in r.get('val', {}).items()}
            quarter = [k for k in val if k <= 0.75 * r['iters']]
            if val and quarter:
                gains.append(val[max(val)] - val[max(quarter)])
        if gains:
            g = statistics.mean(gains)
            out.append(('protocol', 'baseline at plateau (last quarter '
                        f'adds < 1.0 val mIoU): {g:+.2f} -> '
                        f'{_verdict(g < 1.0)}'))
    attnfd = 'AttnFD' + (f' ({attnfd_name_of(meta["attnfd"])})'
                         if meta.get('attnfd') else '')
    long_base = f'baseline with {2 * iters} iterations'
    t_out = 'sd' + TEACHER_OUTPUT
    seeds = len((meta.get('proto') or {}).get('seeds') or ())
    compare = functools.partial(_compare, seeds=seeds)
    for group, line in (
            ('attnfd', compare(
                table, 'attnfd', 'baseline',
                f'{attnfd} - baseline >= +2.0 test mIoU with the 95% '
                'interval above 0 (equal iterations)', 2.0, ci=True)),
            ('attnfd', compare(
                table, 'attnfd', 'baseline_2x',
                f'the same at equal training time ({long_base})', 2.0,
                ci=True)),
            ('attnfd', compare(table, 'attnfd', 'kd',
                               'AttnFD >= KD (equal iterations)')),
            ('attnfd', compare(table, 'attnfd', 'cwd',
                               'AttnFD >= CWD (equal iterations)')),
            ('sd', compare(table, t_out, 'sd', 'axial SD exported teacher '
                           'output >= its student output (the same runs)')),
            ('sd', compare(table, 'sd', 'ce2', 'axial SD student output > '
                           'doubled-CE control (equal iterations)',
                           strict=True)),
            ('sd', compare(table, 'sd', 'baseline_2x', 'axial SD student '
                           'output > baseline at equal training time '
                           f'({long_base})', strict=True)),
            # the controls of the issue: what the teacher CE's gradient into
            # the network adds, and what SD adds on top of AttnFD
            ('sd', compare(table, 'sd', 'sd_detach', 'axial SD student '
                           'output - the same with the axial input detached',
                           info=True)),
            ('sd', compare(table, 'attnfd_sd', 'attnfd', 'AttnFD + axial SD '
                           '(student output) - AttnFD alone', info=True))):
        if line:
            out.append((group, line))
    if all(k in mean for k in ('attnfd', 'baseline')) and teacher:
        gap = teacher - mean['baseline']
        if gap > 0:
            share = (mean['attnfd'] - mean['baseline']) / gap
            n = len(test['attnfd'])
            partial = f' so far ({n} of {seeds} seeds)' if n < seeds else ''
            out.append(('attnfd', 'stretch: AttnFD closes >= 50% of the '
                        f'teacher-student gap: {100 * share:.0f}% -> '
                        f'{_verdict(share >= 0.5)}{partial}'))
    out += _unchosen_seed_lines(test, meta)
    return [line for group, line in out if group in groups]


def attnfd_name_of(settings: Dict) -> str:
    """``fitted_tensor_w8``-style name of AttnFD settings."""
    return arms.attnfd_name(settings)[len('attnfd_'):]


def _unchosen_seed_lines(test: Dict[str, Dict[int, float]],
                         meta: Dict) -> List[Tuple[str, str]]:
    """The chosen arms against the baseline on the seeds the val choice did
    not see (its winner's-curse bias does not reach them), as (target
    group, line)."""
    used = set((meta.get('proto') or {}).get('ablation_seeds') or ())
    if not meta.get('chosen') or not used:
        return []
    out = []
    for arm in ('attnfd', 'sd'):
        fresh = {s: v for s, v in test.get(arm, {}).items() if s not in used}
        pd = paired_diff(fresh, test.get('baseline', {}))
        if pd is not None:
            out.append((arm, f'{arm} - baseline on the seeds the choice '
                        f'did not use (seeds {", ".join(map(str, pd.seeds))})'
                        f': {format_paired(pd)} (information, no target)'))
    return out


def _total_hours(results: List[dict]) -> float:
    return sum(_final_seconds(r) or 0.0 for r in results) / 3600


def missing_runs(names: List[str], seeds: List[int],
                 results: List[dict]) -> List[str]:
    """``'<arm> seed <k>'`` of every (arm, seed) without a finished run."""
    done = {(r['arm'], r['seed']) for r in results}
    return [f'{name} seed {seed}' for seed in seeds for name in names
            if (name, seed) not in done]


def settings_line(results: List[dict], meta: Dict) -> str:
    """The AttnFD/SD settings of the main arms. While a ``--choose-on-val``
    invocation has not yet recorded its choice, the settings in its meta are
    placeholders: the line names the choice the finished ablation makes."""
    if meta.get('chosen') or '--choose-on-val' not in meta.get('argv', []):
        return (f'AttnFD settings of the main arms: `{meta["attnfd"]}`; '
                f'axial SD: `{meta["sd"]}`'
                + (' (chosen on val from the ablation).'
                   if meta.get('chosen') else '.'))
    proto = meta.get('proto', {})
    if missing_runs(arms.ablation_names(proto.get('grid', 'full')),
                    proto.get('ablation_seeds', []), results):
        return ('AttnFD and axial-SD settings of the main arms: chosen on '
                'val when the ablation has finished.')
    chosen = choose_on_val(results)
    sd = dict(chosen['sd'], detach_input=False)
    return (f'AttnFD settings of the main arms: `{chosen["attnfd"]}`; axial '
            f'SD: `{sd}` (the ablation\'s choice on val; the protocol '
            'records it when its chosen arms start).')


def _machines_line(results: List[dict]) -> List[str]:
    counts: Dict[str, int] = {}
    for r in results:
        if r.get('timed_on'):
            counts[r['timed_on']] = counts.get(r['timed_on'], 0) + 1
    if not counts:
        return []
    where = '; '.join(f'{cpu} ({n} runs)' for cpu, n in counts.items())
    return [f'Runs timed on: {where}. Seconds of different CPUs are not '
            'comparable: a training-time ratio uses the seeds whose two '
            'runs were timed on one CPU where any exist, else student '
            'steps (a run\'s seconds over the median s/iteration of the '
            'plain student, baseline and baseline_2x, on the CPU that timed '
            'it; also the last column and the x axis of the time plot).', '']


def _setup_text(meta: Dict) -> str:
    """The protocol in one paragraph: data, schedule, models, pairing."""
    proto = meta['proto']
    h, w = proto['crop']
    s, t = proto['student'], proto['teacher']
    return (
        f'CamVid SegNet split at {w}x{h}: train 367, choice on val 101, '
        f'report on test 233 (final checkpoint of every run, once). Batch '
        f'{proto["batch"]}, SGD lr {proto["lr"]}, poly, from scratch. '
        f'Student DeepLabV3+ ResNetV1c-18 layout width {s["width"]} OS'
        f'{s["output_stride"]}; teacher width {t["width"]} OS'
        f'{t["output_stride"]}, {meta["teacher_iters"]} iterations; students '
        f'{meta["iters"]} iterations. Paired seeds: for seed k every arm '
        'starts from the same student weights and data order. mIoU in %, '
        'mean +- std over seeds; paired differences with a 95% t-interval.')


def _commits(results: List[dict]) -> str:
    return ", ".join(sorted({r.get("commit", "?") for r in results}))


def _ablation_lines(table: Dict[str, Dict[int, dict]], meta: Dict,
                    method: str) -> List[str]:
    """The val-based ablation of ``method`` ('attnfd' or 'sd'), if run."""
    chosen = (meta.get('chosen') or {}).get(method)
    if method == 'attnfd':
        grid = list({arms.attnfd_name(s): s for size in ('full', 'small')
                     for s in arms.attnfd_ablation(size)}.values())
        title, namer = 'AttnFD', arms.attnfd_name
    else:
        grid, title, namer = arms.sd_ablation(), 'Axial-SD', arms.sd_name
    if not any(a in table for a in map(namer, grid)):
        return []
    return [f'#### {title} ablation (choice by mean final val mIoU)', '',
            ablation_table(table, grid, namer, chosen, meta[method], method),
            '']


def _with_outputs(names) -> List[str]:
    """Arm names, each followed by its exported teacher output's row."""
    return [a for name in names for a in (name, name + TEACHER_OUTPUT)]


def with_machines(results: List[dict],
                  machines: Optional[Dict[str, str]]) -> List[dict]:
    """The runs, each marked with the CPU that timed it (``timed_on``)."""
    return [dict(r, timed_on=(machines or {}).get(run_name(r)))
            for r in results]


def _extra_text(meta: Dict) -> str:
    return ''.join(
        f' Extra arms: `python bench/accuracy.py {" ".join(e["argv"])}` '
        f'(last invoked for {e["wall_h"]:.2f} h).'
        for e in meta.get('extra_invocations', []))


def render(results: List[dict], meta: Dict,
           machines: Optional[Dict[str, str]] = None) -> str:
    """The markdown report; ``machines`` (run -> CPU, see
    :func:`record_machines`) marks which CPU timed each run."""
    results = with_machines(results, machines)
    table = by_arm(results)
    order = ['teacher'] + _with_outputs(arms.MAIN_ARMS) + list(
        arms.EXTRA_ARMS)
    lines = [
        f'### CamVid accuracy v2, {meta["protocol"]} protocol', '',
        f'Commit(s): {_commits(results)}. '
        f'Command: `python bench/accuracy.py {" ".join(meta["argv"])}`, '
        f'last invoked on {common.machine_line(meta["machine"])} for '
        f'{meta["wall_h"]:.2f} h; '
        f'training time of all runs listed: {_total_hours(results):.2f} h '
        '(median s/iteration x iterations).' + _extra_text(meta), '',
        _setup_text(meta), ''] + _machines_line(results) + [
        settings_line(results, meta), '',
        main_table(table, order), ''
    ] + one_seed_lines(table, order)
    targets = target_lines(table, meta['iters'], meta)
    if targets:
        lines += ['Targets (test mIoU, final checkpoints; never tuned on '
                  'test):', ''] + [f'* {x}' for x in targets] + ['']
    lines += _ablation_lines(table, meta, 'attnfd')
    lines += _ablation_lines(table, meta, 'sd')
    return '\n'.join(lines)


#: The CamVid evidence of each method, generated into its README as the
#: section ``camvid_<method>_<protocol>``: README (from the repository
#: root), arms of its table, its target groups and its ablation.
METHOD_SECTIONS = {
    'attnfd': ('configs/attnfd/README.md',
               ['teacher', 'baseline', 'baseline_2x', 'kd', 'cwd',
                'attnfd'], ('protocol', 'attnfd'), 'attnfd'),
    'axial_sd': ('configs/axial_sd/README.md',
                 ['baseline', 'baseline_2x', 'ce2'] + _with_outputs(
                     ['sd', 'sd_detach']), ('sd', ), 'sd'),
    'attnfd_axial_sd': ('configs/attnfd_axial_sd/README.md',
                        ['teacher', 'baseline', 'baseline_2x', 'attnfd'] +
                        _with_outputs(['sd', 'attnfd_sd']), (), None),
    'summary': ('README.md',
                ['teacher', 'baseline', 'baseline_2x', 'ce2', 'kd', 'cwd',
                 'attnfd'] + _with_outputs(['sd']), TARGET_GROUPS, None),
    'feature_kd': ('configs/feature_kd/README.md',
                   ['teacher', 'baseline', 'baseline_2x', 'kd', 'cwd',
                    'attnfd'] + list(arms.EXTRA_ARMS), (), None),
}


def method_section(results: List[dict], meta: Dict, method: str,
                   machines: Optional[Dict[str, str]] = None) -> str:
    """The rows, targets and ablation of one method (a key of
    :data:`METHOD_SECTIONS`) for its README; the whole report is
    ``bench/results/accuracy_<protocol>.md``."""
    readme, order, groups, ablation = METHOD_SECTIONS[method]
    results = with_machines(results, machines)
    table = by_arm(results)
    name = f'accuracy_{meta["protocol"]}'
    link = osp.relpath(f'bench/results/{name}.md', osp.dirname(readme))
    lines = [
        f'Generated from `bench/results/{name}.json` by `python '
        f'bench/accuracy.py --protocol {meta["protocol"]} --report-only` '
        f'(runs made at commit(s) {_commits(results)}; the whole report, '
        f'the curves and the other arms are in [bench/results/{name}.md]'
        f'({link})). {_setup_text(meta)}', '',
        settings_line(results, meta), '',
        main_table(table, order), ''] + one_seed_lines(table, order)
    targets = target_lines(table, meta['iters'], meta, groups)
    if targets:
        lines += ['Targets (test mIoU, final checkpoints; never tuned on '
                  'test):', ''] + [f'* {x}' for x in targets] + ['']
    if ablation:
        lines += _ablation_lines(table, meta, ablation)
    return '\n'.join(lines)


def write_method_sections(results: List[dict], meta: Dict,
                          machines: Optional[Dict[str, str]] = None,
                          root: str = common.REPO_ROOT) -> List[str]:
    """Rewrite the section ``camvid_<method>_<protocol>`` of every method
    README that has one.

    Returns:
        list[str]: The READMEs that were rewritten.
    """
    done = []
    for method, (readme, *_) in METHOD_SECTIONS.items():
        path = osp.join(root, readme)
        text = method_section(results, meta, method, machines)
        if common.update_readme(f'camvid_{method}_{meta["protocol"]}', text,
                                path):
            done.append(readme)
    return done


def plot(results: List[dict], path: str,
         machines: Optional[Dict[str, str]] = None) -> None:
    """Mean val curves against iterations and against training time in
    student steps (runs without a student timing on their CPU are left out
    of the time panel)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    table = by_arm(with_machines(results, machines))
    unit = student_step_seconds(table)
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5), sharey=True)
    colors = plt.cm.tab10.colors
    shown = [a for a in arms.MAIN_ARMS if a in table]
    for i, arm in enumerate(shown):
        curves = [r for r in table[arm].values() if r.get('val')]
        if not curves:
            continue
        its = sorted({int(k) for r in curves for k in r['val']})
        mean = [statistics.mean(r['val'][str(k)] for r in curves
                                if str(k) in r['val']) for k in its]
        axes[0].plot(its, mean, marker='o', markersize=3,
                     color=colors[i % 10], label=arm)
        timed = [r for r in curves if _student_steps(r, unit, 1)]
        if not timed:
            continue
        # student steps at iteration k, and the mean curve of those runs
        steps = [statistics.mean(_student_steps(r, unit, k) for r in timed)
                 for k in its]
        mean = [statistics.mean(r['val'][str(k)] for r in timed
                                if str(k) in r['val']) for k in its]
        axes[1].plot(steps, mean, marker='o', markersize=3,
                     color=colors[i % 10], label=arm)
    for name, runs in table.items():
        if name == 'teacher':
            r = next(iter(runs.values()))
            if r.get('val'):
                for ax in axes:
                    ax.axhline(list(r['val'].values())[-1], color='k',
                               linestyle='--', linewidth=1,
                               label='teacher (final val)')
    axes[0].set_xlabel('iteration')
    axes[1].set_xlabel('training time in plain-student steps '
                       '(seconds / student s/iteration on the same CPU)')
    axes[0].set_ylabel('val mIoU (%), mean over seeds')
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    os.makedirs(osp.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _meta(state) -> Dict:
    args = state.args
    return dict(protocol=args.protocol, proto=args.proto,
                machine=state.info, argv=args.argv, iters=args.iters,
                teacher_iters=args.teacher_iters, attnfd=args.attnfd,
                sd=args.sd, chosen=args.chosen,
                wall_h=(__import__('time').time() - state.start) / 3600,
                failed=list(state.failed))


#: ledger of the CPU that timed each run, beside the results JSON (the
#: protocol resumes across machines; its runs do not carry the CPU)
MACHINES_FILE = 'accuracy_{protocol}_machines.json'


def run_name(r: dict) -> str:
    return f'{r["arm"]} seed {r["seed"]}'


def machine_label(info: Dict) -> str:
    return str(info.get('gpu') or f'{info["cpu"]}, {info["cores"]} cores')


def record_machines(out_dir: str, protocol: str, runs: List[dict],
                    info: Optional[Dict] = None) -> Dict[str, str]:
    """The ledger ``run -> CPU``; with ``info``, ``runs`` missing from it
    are recorded as timed on that machine (call it only on the machine that
    trained them) and the ledger is saved."""
    path = osp.join(out_dir, MACHINES_FILE.format(protocol=protocol))
    ledger: Dict[str, str] = {}
    if osp.isfile(path):
        with open(path) as f:
            ledger = json.load(f)['runs']
    new = [run_name(r) for r in runs if run_name(r) not in ledger]
    if info is not None and new:
        ledger.update({name: machine_label(info) for name in new})
        common.write_json(path, dict(runs=dict(sorted(ledger.items()))))
    return ledger


#: Meta keys that must match for results files to be merged.
SCHEDULE_KEYS = ('protocol', 'iters', 'teacher_iters')


def earlier_results(path: str, meta: Optional[Dict] = None) -> Optional[Dict]:
    """The results file at ``path``, if it exists and (given ``meta``) is
    of the same protocol and schedule."""
    if not osp.isfile(path):
        return None
    with open(path) as f:
        data = json.load(f)
    if meta and any(data.get('meta', {}).get(k) != meta.get(k)
                    for k in SCHEDULE_KEYS):
        return None
    return data


def merged_runs(path: str, runs: List[dict],
                meta: Optional[Dict] = None) -> List[dict]:
    """``runs`` plus the runs of an earlier results file at ``path`` that
    this invocation did not run (e.g. the main table when only extra arms
    were asked for), so no finished run drops out of the results; only from
    a file of the same protocol and schedule."""
    earlier = (earlier_results(path, meta) or {}).get('runs', [])
    have = {(r['arm'], r['seed']) for r in runs}
    return list(runs) + [r for r in earlier
                         if (r['arm'], r['seed']) not in have]


def merged_meta(path: str, meta: Dict, runs: List[dict]) -> Dict:
    """This invocation's meta, or, when it trained extra arms only (e.g.
    ``--arms at ofd --seeds 0`` after the main table), the earlier file's
    meta with this invocation added under ``extra_invocations``: the command
    and val choice the report prints must stay those of the main table."""
    trained = [r['arm'] for r in runs if not r.get('restored_from')]
    if not trained or any(a not in arms.EXTRA_ARMS for a in trained):
        return meta
    earlier = (earlier_results(path, meta) or {}).get('meta')
    if not earlier:
        return meta
    extra = [e for e in earlier.get('extra_invocations', [])
             if e['argv'] != meta['argv']]
    extra.append({k: meta[k] for k in ('argv', 'machine', 'wall_h',
                                       'failed')})
    return dict(earlier, extra_invocations=extra)


def save(state, final: bool) -> None:
    """Write ``accuracy_<protocol>.{md,json,png}`` to ``--out-dir``."""
    args = state.args
    name = f'accuracy_{args.protocol}'
    path = osp.join(args.out_dir, f'{name}.json')
    meta = merged_meta(path, _meta(state), state.results)
    runs = merged_runs(path, state.results, meta)
    machines = record_machines(
        args.out_dir, args.protocol,
        [r for r in state.results if not r.get('restored_from')], state.info)
    text = render(runs, meta, machines)
    plot(runs, osp.join(args.out_dir, f'{name}.png'), machines)
    common.save_results(args.out_dir, name, text, dict(meta=meta, runs=runs),
                        readme=final)
    if final and common.is_results_dir(args.out_dir):
        write_method_sections(runs, meta, machines)


def report_only(args) -> List[dict]:
    name = f'accuracy_{args.protocol}'
    path = osp.join(args.out_dir, f'{name}.json')
    if not osp.isfile(path):
        raise SystemExit(f'{path} does not exist: run the protocol first.')
    with open(path) as f:
        data = json.load(f)
    machines = record_machines(
        args.out_dir, args.protocol, data['runs'],
        common.machine_info() if args.timed_here else None)
    text = render(data['runs'], data['meta'], machines)
    plot(data['runs'], osp.join(args.out_dir, f'{name}.png'), machines)
    common.save_results(args.out_dir, name, text, readme=True)
    if common.is_results_dir(args.out_dir):
        write_method_sections(data['runs'], data['meta'], machines)
    print(text)
    return data['runs']
