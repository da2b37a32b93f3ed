# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The student of a distillation checkpoint as a plain MMSeg checkpoint."""
import os.path as osp
from typing import Optional

import torch

from ..checkpoint import (KeyReport, compare_keys, export_meta,
                          extract_student_state_dict, load_checkpoint_safely,
                          make_plain_checkpoint, save_checkpoint_atomic)

__all__ = ['convert_kd_checkpoint_to_student']


def convert_kd_checkpoint_to_student(src: str,
                                     dst: str,
                                     student: torch.nn.Module,
                                     force: bool = False,
                                     cfg_text: Optional[str] = None
                                     ) -> KeyReport:
    """Write the student of a distillation checkpoint as a plain checkpoint.

    Keeps only ``architecture.*`` weights (renamed to the MMSeg model's own
    names), drops teacher, distiller, optimizer, message hub and scheduler
    state, checks names and shapes against ``student`` and saves atomically.

    Args:
        src: Distillation checkpoint written by ``tools/train.py``.
        dst: Output ``.pth`` path.
        student: The student segmentor built from its config; only its
            state-dict keys and shapes are used.
        force: Write even if keys are missing/unexpected/mis-shaped.
        cfg_text: Student config text to store as ``meta['cfg']``.

    Returns:
        KeyReport: Comparison of the exported weights with ``student``.

    Raises:
        ValueError: The weights do not match ``student`` and not ``force``.
        KeyError: ``src`` holds no ``architecture.`` keys.
    """
    checkpoint = load_checkpoint_safely(src)
    state = extract_student_state_dict(checkpoint)
    report = compare_keys(state, student)
    if not report.ok and not force:
        raise ValueError(
            f'the student weights in {src} do not match the student model: '
            f'{report.summary()}. Check --student-config (same widths, '
            'heads and num_classes as in training) or pass --force to write '
            'the file anyway.')
    meta = export_meta(
        checkpoint, converted_from=osp.basename(src), cfg=cfg_text)
    save_checkpoint_atomic(make_plain_checkpoint(state, meta), dst)
    return report
