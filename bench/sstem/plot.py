# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The ssTEM study's plot: val curves of every arm per architecture."""
import os
import os.path as osp
import statistics
from typing import List

from bench.sstem.arms import ARCH_NAMES, ARCHS, SOURCE_DELTAS
from bench.sstem.summary import inference_mode, summarize


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
