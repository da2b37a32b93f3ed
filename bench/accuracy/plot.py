# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The CamVid protocol's plot: val curves against iterations and time."""
import os
import os.path as osp
import statistics
from typing import Dict, List, Optional

from bench.accuracy import arms
from bench.accuracy.records import (by_arm, student_step_seconds,
                                    student_steps, with_machines)


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
        timed = [r for r in curves if student_steps(r, unit, 1)]
        if not timed:
            continue
        # student steps at iteration k, and the mean curve of those runs
        steps = [statistics.mean(student_steps(r, unit, k) for r in timed)
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
