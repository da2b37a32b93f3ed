# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The ssTEM study's numbers: per-architecture test mIoU of every arm and
output, paired deltas, the val choice of the inference mode, the targets.
"""
import math
import statistics
from typing import List, Optional, Tuple

from bench.lib import stats
from bench.sstem.arms import ARCHS, INFERENCE_MODES, TEACHER_KEY


#: Largest test-mIoU gap (points) between the exported teacher-output model
#: and the val loop's teacher output that still counts as equal (float
#: summation order only).
EXPORT_TOL = 0.01


def run_seconds(result: dict) -> float:
    """Seconds a finished run took: its last training segment's wall time,
    or, if it was resumed, the logged iteration seconds of all segments
    when larger, plus the final evaluation."""
    return (max(result.get('train_wall_s', 0),
                result.get('train_logged_s', 0)) +
            result.get('eval_wall_s', 0))


def inference_mode(results: List[dict]) -> Tuple[str, Optional[float]]:
    """The test-time mode val prefers, and by how much.

    Returns:
        tuple: ``'slide'`` or ``'whole'``, and the mean over architectures
        and outputs of (slide - whole) final val mIoU (None without val
        scores; then the models' own mode, ``'slide'``). Ties keep slide.
    """
    per = {}
    for r in results:
        val = r.get('val_final', {})
        for key in ('mIoU', TEACHER_KEY):
            a, b = (val.get(m, {}).get(key) for m in INFERENCE_MODES)
            if a is not None and b is not None and math.isfinite(a - b):
                per.setdefault((r['arch'], key), []).append(a - b)
    if not per:
        return 'slide', None
    diff = statistics.mean(statistics.mean(v) for v in per.values())
    return ('slide' if diff >= 0 else 'whole'), diff


def _test_scores(r: dict, mode: str) -> dict:
    """Test metrics of a result in ``mode``."""
    return r.get('test_by_mode', {}).get(mode, {})


def summarize(results: List[dict], mode: str = 'slide') -> dict:
    """Per architecture: test mIoU per arm/output (inference ``mode``) and
    paired deltas."""
    by = {}
    for r in results:
        by.setdefault(r['arch'], {}).setdefault(r['arm'], {})[r['seed']] = r
    out = {}
    for arch in ARCHS:
        if arch not in by:
            continue
        runs = by[arch]

        def score(arm, key='mIoU'):
            return {s: _test_scores(r, mode)[key]
                    for s, r in runs.get(arm, {}).items()
                    if key in _test_scores(r, mode)}

        base, ce2 = score('baseline'), score('ce2')
        stu, tea = score('sd'), score('sd', TEACHER_KEY)

        def paired(a, b):
            return [a[s] - b[s] for s in sorted(set(a) & set(b))]

        val = {}
        for val_mode in INFERENCE_MODES:  # not `mode`: score() reads that
            for output, key in (('student', 'mIoU'),
                                ('teacher', TEACHER_KEY)):
                vals = [r['val_final'][val_mode][key]
                        for arm_runs in runs.values()
                        for r in arm_runs.values()
                        if key in r.get('val_final', {}).get(val_mode, {})]
                val[f'{output}_{val_mode}'] = vals
        export_gap = [abs(r['test'][TEACHER_KEY] -
                          r['test_export_teacher_mIoU'])
                      for r in runs.get('sd', {}).values()
                      if 'test_export_teacher_mIoU' in r]
        out[arch] = dict(
            baseline=base, ce2=ce2, sd_student=stu, sd_teacher=tea,
            d_student=paired(stu, base), d_teacher=paired(tea, base),
            d_teacher_student=paired(tea, stu), d_student_ce2=paired(stu, ce2),
            d_ce2=paired(ce2, base), val=val,
            export_max_gap=max(export_gap) if export_gap else None,
            sec_per_iter={arm: statistics.median(
                [r['sec_per_iter'] for r in rs.values()
                 if r.get('sec_per_iter')] or [float('nan')])
                for arm, rs in runs.items()},
            wall_s=sum(run_seconds(r)
                       for rs in runs.values() for r in rs.values()))
    return out


def _wins(summary: dict, key: str,
          strict: bool = False) -> Tuple[int, int, int, int, int]:
    """Count architectures by their paired deltas (one list per arch).

    Returns:
        tuple: architectures whose mean delta wins (``> 0`` if ``strict``,
        else ``>= 0``), those with a delta, the fewest paired seeds behind
        one of them, and those whose 95% paired t-interval lies wholly above
        0 / wholly below 0 (differences beyond seed noise; 2+ seeds).
    """
    decided = [s[key] for s in summary.values() if s[key]]
    wins = sum((statistics.mean(d) > 0) if strict else
               (statistics.mean(d) >= 0) for d in decided)
    bounds = [stats.t_interval(d)[1:] for d in decided if len(d) > 1]
    above = sum(low > 0 for low, _ in bounds)
    below = sum(high < 0 for _, high in bounds)
    return (wins, len(decided), min((len(d) for d in decided), default=0),
            above, below)


def target_lines(summary: dict) -> List[str]:
    def verdict(ok):
        return 'met' if ok else 'missed'

    lines = []
    n_arch = len(ARCHS)
    for key, text, need, strict in (
            ('d_student', 'SD student output >= baseline', 4, False),
            ('d_teacher_student', 'teacher output >= student output', 5,
             False),
            ('d_student_ce2', 'SD student output > doubled-CE control', 4,
             True)):
        wins, decided, seeds, above, below = _wins(summary, key, strict)
        status = verdict(wins >= need) if decided == n_arch else \
            f'undecided, {decided} of {n_arch} architectures finished'
        if decided and seeds < 2:
            status += '; some architectures on 1 paired seed only'
        # the target counts signs of mean deltas; say how many of them are
        # larger than the seed-to-seed noise
        lines.append(f'{text}: {wins} of {decided} (target >= {need} of '
                     f'{n_arch}: {status}); beyond seed noise (95% paired '
                     f't-interval excludes 0): {above} better, {below} '
                     'worse')
    psp = summary.get('pspnet')
    if psp and psp['d_student'] and psp['d_teacher']:
        ds, dt = (statistics.mean(psp['d_student']),
                  statistics.mean(psp['d_teacher']))
        loses = ds < 0 and dt < 0
        lines.append(
            f'PSPNet loses as in the source (source {-1.32:+.2f} / '
            f'{-1.27:+.2f}): {"yes" if loses else "no"} (ours {ds:+.2f} / '
            f'{dt:+.2f})')
    return lines
