# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The ssTEM study's report (bench/sstem_study.py): per-architecture test
mIoU of the baseline, both SD outputs and the doubled-CE control, paired
deltas beside the source's, the targets, the val choice of the inference
mode, costs and a plot."""
import json
import math
import os
import os.path as osp
import statistics
from typing import Dict, List, Optional, Sequence, Tuple

from bench import common, stats
from bench.sstem_arms import (ARCH_NAMES, ARCHS, ARMS, AXIAL_STRIDE,
                              INFERENCE_MODES, SOURCE_DELTAS, SOURCE_OTHER,
                              TEACHER_KEY, sd_distiller, sd_settings_text)

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



_OPTIMIZERS = dict(sgd='SGD', adamw='AdamW')


def _concurrency(results: Sequence[dict]) -> str:
    """How many runs shared the machine, and the machine time that makes
    when they did (the summed run times count each shared hour twice)."""
    jobs = sorted({r.get('jobs') or 1 for r in results})
    threads = sorted({r.get('threads') or 1 for r in results})
    if jobs == [1]:
        return f', one run at a time with {"/".join(map(str, threads))} ' \
            'thread(s)'
    text = (f', {"/".join(map(str, jobs))} runs at a time with '
            f'{"/".join(map(str, threads))} thread(s) each')
    if len(jobs) == 1:
        hours = sum(run_seconds(r) for r in results) / 3600 / jobs[0]
        text += f', about {hours:.2f} h of the machine'
    return text


def _ms(vals: Sequence[float]) -> str:
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    if not vals:
        return '-'
    if len(vals) == 1:
        return f'{vals[0]:.2f}'
    return f'{statistics.mean(vals):.2f} +- {statistics.stdev(vals):.2f}'


def _signed(vals: Sequence[float]) -> str:
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    if not vals:
        return '-'
    text = f'{statistics.mean(vals):+.2f}'
    return text + (f' +- {statistics.stdev(vals):.2f}' if len(vals) > 1
                   else '')


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


def aggregate(results: List[dict], costs: Dict[str, dict], args,
              info: dict, extra: dict) -> str:
    mode, slide_minus_whole = inference_mode(results)
    summary = summarize(results, mode)
    h, w = args.crop
    dev = info.get('gpu') or 'CPU'
    rows, cost_rows, val_rows = [], [], []
    for arch, s in summary.items():
        src = SOURCE_DELTAS.get(arch)
        rows.append([
            ARCH_NAMES[arch], len(s['baseline']), _ms(list(
                s['baseline'].values())), _ms(list(s['ce2'].values())),
            _ms(list(s['sd_student'].values())),
            _ms(list(s['sd_teacher'].values())), _signed(s['d_student']),
            _signed(s['d_teacher']), _signed(s['d_ce2']),
            f'{src[0]:+.2f}' if src else '-',
            f'{src[1]:+.2f}' if src else '-'])
        c = costs.get(arch)
        if c:
            cost_rows.append([
                ARCH_NAMES[arch],
                f'{c["student"]["params"] / 1e6:.3f}',
                f'{c["teacher"]["params"] / 1e6:.3f}',
                f'{c["student"]["flops"] / 1e9:.3f}',
                f'{c["teacher"]["flops"] / 1e9:.3f}',
                f'{c["student"]["latency_ms"][mode]:.0f}',
                f'{c["teacher"]["latency_ms"][mode]:.0f}',
                ' / '.join(f'{s["sec_per_iter"][a]:.2f}'
                           if a in s['sec_per_iter'] else '-'
                           for a in ARMS)])
        v = s['val']
        val_rows.append([ARCH_NAMES[arch]] + [
            _ms(v[k]) for k in ('student_slide', 'student_whole',
                                'teacher_slide', 'teacher_whole')])
    unet_grid = AXIAL_STRIDE.get('unet', 1) if args.sd_unet_stride is None \
        else args.sd_unet_stride
    run_commits = sorted({c for r in results for c in r.get('commits', [])})
    mode_text = {'slide': 'sliding-window inference at the crop',
                 'whole': 'whole-section inference'}[mode]
    gaps = [s['export_max_gap'] for s in summary.values()
            if s['export_max_gap'] is not None]
    sd_axial = json.dumps(sd_distiller('pspnet', args)['axial'],
                          sort_keys=True)
    lines = [
        f'### Axial self-distillation on Drosophila ssTEM, {args.protocol} '
        f'protocol ({dev})', '',
        f'Machine: {common.machine_line(info)}. Runs trained at commit(s) '
        f'{", ".join(run_commits) or "unrecorded"}; report written at '
        f'{extra["commit"]}; '
        f'command `{extra["command"]}`; wall time of the finished runs '
        f'{extra["runs_wall_s"] / 3600:.2f} h{_concurrency(results)} (this '
        f'invocation {extra["wall_s"] / 60:.1f} min).', '',
        f'Sections 0-11 train, 12-15 val, 16-19 test at '
        f'{extra["image"][1]}x{extra["image"][0]} (1024x1024 scaled by '
        f'{extra["image"][1] / 1024:g}); {w}x{h} '
        f'crops, batch {args.batch}, {args.iters} iterations, '
        f'{_OPTIMIZERS[args.optimizer]} lr {args.lr:g} poly; width-reduced '
        f'models (base width {args.width}, '
        f'UNet {args.unet_width}; see `arch_model` in bench/sstem_arms.py), '
        'from scratch, paired initial '
        f'weights per seed; {mode_text} (the mode val prefers, below); '
        f'test scored at the {args.select} checkpoint (chosen on val: '
        f'`--select {args.select}`). Axial SD: {sd_settings_text(args)}; '
        f'block `{sd_axial}` (PSPNet shown; UNet attends on a '
        f'{unet_grid}x pooled grid). '
        'Test mIoU in %, mean +- std over seeds; deltas are paired per seed '
        'against the baseline.', '',
        common.md_table(
            ['architecture', 'seeds', 'baseline', 'CE x2 control',
             'SD student', 'SD teacher', 'd student', 'd teacher', 'd CE x2',
             'source d student', 'source d teacher'], rows), '',
        'Targets (mean paired deltas over seeds):', ''
    ]
    lines += [f'* {t}' for t in target_lines(summary)]
    lines += [
        '', 'Source models without a counterpart here: ' + ', '.join(
            f'{k} {a:+.2f}/{b:+.2f}' for k, (a, b) in SOURCE_OTHER.items()),
        '', 'Cost: parameters of the inference model, FLOPs of one '
        f'{w}x{h} window (fvcore convention, 1 multiply-add = 1 FLOP), CPU '
        f'latency of one {extra["image"][1]}x{extra["image"][0]} section '
        f'with {mode_text} (median, '
        f'{args.latency_threads} threads, measured once per architecture '
        'after the runs and cached in the work root); training s/iter '
        '(median of the logged iterations, seed 0 ... n).', '',
        common.md_table(['architecture', 'params student (M)',
                         'params teacher (M)', 'GFLOPs student',
                         'GFLOPs teacher', 'latency student (ms)',
                         'latency teacher (ms)',
                         's/iter baseline / SD / CE x2'],
                        cost_rows), '',
        'Val mIoU at the final checkpoint, sliding window at the crop vs '
        'the whole section (logits larger than the training logits; the '
        'axial relative tables are interpolated):', '',
        common.md_table(['architecture', 'student slide (all arms)',
                         'student whole (all arms)', 'teacher slide',
                         'teacher whole'], val_rows), '',
        'Inference mode, chosen on val: '
        + (f'sliding window minus whole section = {slide_minus_whole:+.2f} '
           'val mIoU points (mean over architectures and outputs), so the '
           f'test numbers and latencies above use {mode_text}'
           + ('' if mode == 'slide' else
              '; the configs, which slide at the crop, should switch')
           + '.' if slide_minus_whole is not None else
           'no val scores; the models\' own sliding window is used.'),
        'Exported teacher-output model vs the teacher output of the val '
        'loop on test: max |difference| '
        + (f'{max(gaps):.2g} mIoU points ('
           + ('equal' if max(gaps) <= EXPORT_TOL else
              f'NOT equal: above {EXPORT_TOL:g}; the export is broken')
           + ').' if gaps else '- (no SD run).'),
    ]
    diverged = sorted(f'{r["arch"]} {r["arm"]} seed {r["seed"]}'
                      for r in results if r.get('diverged'))
    if diverged:
        lines += ['', 'Diverged (the last logged training loss not finite or '
                  'above 10x its smallest; their scores are in the tables): '
                  + ', '.join(diverged) + '.']
    if extra.get('failed') or extra.get('stopped'):
        lines += ['', f'Unfinished: failed {extra.get("failed") or "none"}; '
                  f'not run or stopped at the deadline '
                  f'{extra.get("stopped") or "none"}.']
    return '\n'.join(lines)


def plot(results: List[dict], path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    summary = summarize(results, inference_mode(results)[0])
    archs = [a for a in ARCHS if a in summary]
    series = [('d_student', 'SD student (ours)', 'tab:blue', None),
              ('d_teacher', 'SD teacher (ours)', 'tab:orange', None),
              ('d_ce2', 'CE x2 control (ours)', 'tab:gray', None),
              ('src_student', 'SD student (source)', 'tab:blue', '//'),
              ('src_teacher', 'SD teacher (source)', 'tab:orange', '//')]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.16
    for i, (key, label, color, hatch) in enumerate(series):
        xs, ys, errs = [], [], []
        for j, arch in enumerate(archs):
            if key.startswith('src_'):
                src = SOURCE_DELTAS.get(arch)
                if not src:
                    continue
                val, err = src[0 if key == 'src_student' else 1], 0.0
            else:
                vals = summary[arch][key]
                if not vals:
                    continue
                val = statistics.mean(vals)
                err = statistics.stdev(vals) if len(vals) > 1 else 0.0
            xs.append(j + (i - 2) * width)
            ys.append(val)
            errs.append(err)
        ax.bar(xs, ys, width, yerr=errs, color=color, label=label,
               hatch=hatch, alpha=0.55 if hatch else 0.9,
               edgecolor='k' if hatch else None, capsize=2)
    ax.axhline(0, color='k', linewidth=0.8)
    ax.set_xticks(range(len(archs)))
    ax.set_xticklabels([ARCH_NAMES[a] for a in archs], fontsize=8)
    ax.set_ylabel('test mIoU delta vs baseline (points)')
    ax.set_title('Axial self-distillation on Drosophila ssTEM: ours '
                 '(mean +- std over seeds) and the source')
    ax.grid(axis='y', alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(osp.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
