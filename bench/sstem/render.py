# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The ssTEM study's markdown: per-architecture test mIoU of the baseline,
both SD outputs and the doubled-CE control, paired deltas beside the
source's, the targets, the val choice of the inference mode and the costs.
"""
import json
import math
import statistics
from typing import Dict, List, Sequence

from bench.lib import common
from bench.sstem.arms import (ARCH_NAMES, ARMS, CONFIG_DIR, SOURCE_DELTAS,
                              SOURCE_OTHER, sd_distiller, sd_settings_text)
from bench.sstem.summary import (EXPORT_TOL, inference_mode, run_seconds,
                                 summarize, target_lines)


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
    unet_grid = sd_distiller('unet', args)['axial']['stride']
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
        f'UNet {args.unet_width}; configs in {CONFIG_DIR}/), '
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
