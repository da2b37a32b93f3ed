# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The CamVid protocol's targets: paired test-mIoU differences at equal
iterations and at equal training time, each stated as met or missed.
"""
import functools
import statistics
from typing import Dict, List, Optional, Tuple

from bench.accuracy.records import (TEACHER_OUTPUT, arm_values, attnfd_name_of,
                                    final_seconds, student_step_seconds,
                                    student_steps)
from bench.lib.stats import format_paired, paired_diff


def _verdict(ok: Optional[bool]) -> str:
    return 'undecided' if ok is None else ('met' if ok else 'missed')


def _seconds(runs: Dict[int, dict]) -> Dict[int, float]:
    return {s: v for s, v in ((s, final_seconds(r)) for s, r in runs.items())
            if v is not None}


def _time_note(table: Dict[str, Dict[int, dict]], arm: str,
               ref: str) -> str:
    """Training time of ``arm`` over ``ref`` and whether equal iterations
    are also (about) equal training time.

    A resumed protocol may time its runs on machines of different speed
    (``timed_on``), so the ratio uses, in this order: the seeds whose two
    runs were timed on one CPU; else every seed in student steps
    (:func:`student_steps`); else raw seconds, marked indicative only.
    """
    a, b = table.get(arm, {}), table.get(ref, {})
    ta, tb = _seconds(a), _seconds(b)
    seeds = sorted(set(ta) & set(tb))
    if not seeds:
        return ''
    same = [s for s in seeds
            if a[s].get('timed_on') == b[s].get('timed_on')]
    unit = student_step_seconds(table)
    steps = {s: (student_steps(a[s], unit), student_steps(b[s], unit))
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
    test = {a: arm_values(table.get(a, {}), 'test_mIoU') for a in (arm, ref)}
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
    test = {a: arm_values(r, 'test_mIoU') for a, r in table.items()}
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
