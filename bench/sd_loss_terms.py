# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial self-distillation: how large is each loss term during training?

Reads MMEngine's logged scalars of the runs under a work root (any run that
logged ``distill.loss_sd_mse``: axial SD, AttnFD + axial SD) and reports, per
arm, the student CE, the teacher-output CE and the MSE between the two
outputs, each averaged over the first and the last tenth of training. It
trains nothing; point it at the run cache of a finished protocol:

    python bench/sd_loss_terms.py --work-root bench/cache/sstem_study/cpu \\
        --name sd_loss_terms_sstem_cpu

Writes ``<out-dir>/<name>.{md,json}`` (``bench/results`` by default; the
``sd_loss_terms_*`` sections of ``bench/README.md`` show the committed
ones).
"""
import argparse
import glob
import json
import os.path as osp
import re
import statistics
import sys
import time
from typing import Dict, List, Optional

if __package__ in (None, ''):
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from bench import common, runs  # noqa: E402

#: Logged keys: student decode-head CE, teacher-output CE, SD MSE.
TERMS = dict(student_ce='student.decode.loss_ce',
             teacher_ce='distill.loss_teacher_ce',
             mse='distill.loss_sd_mse')
FRACTION = 0.1


def run_terms(work_dir: str) -> Optional[Dict[str, object]]:
    """Mean of each SD loss term over the first and the last tenth.

    A resumed run logs the iterations after its last checkpoint again; the
    later invocation's values are kept (the final weights come from them).

    Returns:
        dict | None: ``iters`` (the last logged iteration) and, per term,
        ``{'first': mean, 'last': mean}`` over the first and the last tenth
        of the logged steps (at least one); None when the run logged no SD
        MSE.
    """
    by_iter = {
        int(rec['iter']): rec
        for rec in runs.scalar_records(work_dir)
        if TERMS['mse'] in rec and 'iter' in rec
    }
    if not by_iter:
        return None
    logged = sorted(by_iter)
    n = max(1, round(FRACTION * len(logged)))  # at least one logged step
    out: Dict[str, object] = dict(iters=logged[-1])
    for name, key in TERMS.items():
        out[name] = {
            w: statistics.fmean(float(by_iter[i][key]) for i in its)
            for w, its in (('first', logged[:n]), ('last', logged[-n:]))
        }
    return out


def arm_of(run_name: str) -> str:
    """``unet_sd_seed1`` -> ``unet_sd``."""
    return re.sub(r'_seed\d+$', '', run_name)


def collect(work_root: str) -> Dict[str, Dict[str, object]]:
    """``{run name: run_terms + commits}`` of every finished run (one with
    a ``result.json``) under ``work_root`` with SD terms, in name order."""
    found = {}
    for path in sorted(glob.glob(osp.join(work_root, '*', 'result.json'))):
        terms = run_terms(osp.dirname(path))
        if terms is None:
            continue
        with open(path) as f:
            result = json.load(f)
        # the protocols record one commit or one per invocation
        terms['commits'] = result.get('commits') or [result.get('commit')]
        found[osp.basename(osp.dirname(path))] = terms
    return found


def report(found: Dict[str, Dict[str, object]], command: str,
           work_root: str = '') -> str:
    """Markdown: one row per arm, means over its runs."""
    arms: Dict[str, List[dict]] = {}
    for name, terms in found.items():
        arms.setdefault(arm_of(name), []).append(terms)
    rows, ratios = [], []
    for arm, items in arms.items():
        def both(term):
            return [statistics.fmean(t[term][w] for t in items)
                    for w in ('first', 'last')]
        s_ce, t_ce, mse = both('student_ce'), both('teacher_ce'), both('mse')
        ratio = mse[1] / t_ce[1] if t_ce[1] else float('nan')
        ratios.append(ratio)
        rows.append([arm, len(items),
                     statistics.fmean(t['iters'] for t in items),
                     f'{s_ce[0]:.3f} -> {s_ce[1]:.3f}',
                     f'{t_ce[0]:.3f} -> {t_ce[1]:.3f}',
                     f'{mse[0]:.2e} -> {mse[1]:.2e}', f'{ratio:.1e}',
                     f'{t_ce[1] - s_ce[1]:+.3f}'])
    commits = sorted({c for t in found.values() for c in t['commits'] if c})
    lines = [
        f'#### Size of each axial-SD loss term ({work_root or "runs"})',
        '',
        f'Runs trained at commit(s) {", ".join(commits)}; read at '
        f'{common.git_commit()}, {time.strftime("%Y-%m-%d %H:%M")}, by '
        f'`{command}`. MMEngine\'s logged values (each a mean over '
        'its logging interval), averaged over the first and the last '
        f'{FRACTION:.0%} of the iterations of each run, then over the runs '
        'of an arm (its seeds). CE terms as weighted in the loss; the MSE is '
        'the weighted term between the student and the teacher output.', ''
    ]
    lines.append(common.md_table(
        ['arm', 'runs', 'iterations', 'student CE (first -> last)',
         'teacher CE (first -> last)', 'MSE (first -> last)',
         'MSE / teacher CE (last)', 'teacher CE - student CE (last)'],
        rows))
    if ratios:
        lines += ['', 'In the last tenth of training the MSE is '
                  f'{min(ratios):.1e} to {max(ratios):.1e} of the teacher '
                  'CE. Its gradient is proportional to the difference of '
                  'the two outputs, so a ratio far below 1 means the two '
                  'outputs agree and the MSE adds little gradient.']
    return '\n'.join(lines) + '\n'


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-root', required=True,
                        help='folder of run work dirs (a protocol cache)')
    parser.add_argument('--name', default='sd_loss_terms',
                        help='output file stem')
    parser.add_argument('--out-dir', default=common.RESULTS_DIR)
    args = parser.parse_args(argv)
    if not osp.isdir(args.work_root):
        parser.error(f'--work-root {args.work_root} is not a folder; pass '
                     'the run cache of a protocol, e.g. '
                     'bench/cache/sstem_study/cpu')
    found = collect(args.work_root)
    if not found:
        parser.error(f'no run under {args.work_root} logged '
                     f'{TERMS["mse"]}; pass the cache of a protocol with '
                     'axial-SD runs')
    command = (f'python bench/sd_loss_terms.py --work-root {args.work_root}'
               f' --name {args.name}')
    common.save_results(args.out_dir, args.name,
                        report(found, command, args.work_root),
                        dict(command=command, commit=common.git_commit(),
                             fraction=FRACTION, runs=found))
    print(osp.join(args.out_dir, f'{args.name}.md'))


if __name__ == '__main__':
    main()
