# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The CamVid protocol's tables: main arms, one-seed arms, ablations."""
import statistics
from typing import Dict, List, Optional

from bench.accuracy import arms
from bench.accuracy.records import (arm_values, final_seconds,
                                    student_step_seconds, student_steps)
from bench.lib import common
from bench.lib.stats import (format_mean_std, format_paired, mean_std,
                             paired_diff)


# ---------------------------------------------------------------------------
# tables
# ---------------------------------------------------------------------------
def main_table(table: Dict[str, Dict[int, dict]], order: List[str]) -> str:
    base = arm_values(table.get('baseline', {}), 'test_mIoU')
    unit = student_step_seconds(table)
    rows = []
    for arm in order:
        runs = table.get(arm)
        if not runs:
            continue
        test = arm_values(runs, 'test_mIoU')
        secs = [final_seconds(r) for r in runs.values()]
        steps = [student_steps(r, unit) for r in runs.values()]
        spi = [r.get('sec_per_iter') for r in runs.values()]
        rows.append([
            arm, len(runs),
            format_mean_std(mean_std(test.values())),
            format_mean_std(mean_std(arm_values(runs, 'val_final').values())),
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
        arm_values(table[a], 'test_mIoU') for a in order if a in table)
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
            format_mean_std(mean_std(arm_values(runs, 'val_final').values())),
            format_mean_std(mean_std(arm_values(runs, 'test_mIoU').values()))
        ])
    return common.md_table(
        ['setting', 'seeds', 'final val mIoU (choice)', 'test mIoU'], rows)
