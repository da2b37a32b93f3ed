# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The loss-term benchmark's markdown: per arm, the size of each axial-SD
loss term early and late in training.
"""
import statistics
import time
from typing import Dict, List

from bench.lib import common
from bench.sd_loss_terms.terms import FRACTION, TERMS, arm_of


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
        # records written before the field existed read as unknown
        losses = sorted({t.get('consistency', 'unknown') for t in items})
        rows.append([arm, '/'.join(losses), len(items),
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
        'of an arm (its seeds). CE terms as weighted in the loss; the '
        'consistency term is the weighted loss between the student and the '
        'teacher output (the distiller\'s `mse` loss, logged as '
        f'`{TERMS["mse"]}`: the MSE of probabilities or the tempered KL, '
        'as the column "consistency" says, read from each run\'s config).',
        ''
    ]
    lines.append(common.md_table(
        ['arm', 'consistency', 'runs', 'iterations',
         'student CE (first -> last)', 'teacher CE (first -> last)',
         'consistency term (first -> last)',
         'consistency / teacher CE (last)',
         'teacher CE - student CE (last)'],
        rows))
    if ratios:
        lines += ['', 'In the last tenth of training the consistency term is '
                  f'{min(ratios):.1e} to {max(ratios):.1e} of the teacher '
                  'CE. Both forms vanish, with their gradient, when the two '
                  'outputs agree, so a ratio far below 1 means the teacher '
                  'output tells the student little it does not already '
                  'predict.']
    return '\n'.join(lines) + '\n'
