# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The axial-detach benchmark's markdown: student and teacher-output test
mIoU per seed with the teacher side detached or not, and their means."""
from typing import List


def report(rows: List[dict], iters: int, machine: str) -> str:
    """One row per (detach_teacher, seed), then the mean of each setting.

    Args:
        rows: ``detach_teacher``, ``seed``, ``student`` and
            ``teacher_output`` (test mIoU) of every run.
        iters: Training iterations of every run.
        machine: The machine line (:func:`bench.lib.common.machine_line`).
    """
    lines = [
        '### Axial self-distillation: stop-gradient on the teacher side',
        '',
        machine,
        f'Demo config (DeepLabV3+ w16, CamVid sample 240x180), {iters} '
        'iterations from scratch, val = 24 images; MSE on probabilities.',
        '',
        '| detach_teacher | seed | student mIoU | teacher-output mIoU |',
        '|---|---|---|---|',
    ]
    for r in rows:
        lines.append(f"| {r['detach_teacher']} | {r['seed']} | "
                     f"{r['student']:.2f} | {r['teacher_output']:.2f} |")
    for detach in (True, False):
        sel = [r for r in rows if r['detach_teacher'] == detach]
        s = sum(r['student'] for r in sel) / len(sel)
        t = sum(r['teacher_output'] for r in sel) / len(sel)
        lines.append(f'| {detach} | mean | {s:.2f} | {t:.2f} |')
    return '\n'.join(lines) + '\n'
