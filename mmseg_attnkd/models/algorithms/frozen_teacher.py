# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""How a frozen teacher runs in a distillation step.

Three settings of :class:`SegSingleTeacherDistill`, applied here:

* ``teacher_features_only``: MMRazor calls the frozen teacher in ``'loss'``
  mode only so that its recorders fire; for an MMSeg segmentor that also
  runs the auxiliary heads and every loss, whose results are thrown away.
  ``'tensor'`` mode runs backbone, neck and decode head only.
* ``teacher_precision``: the teacher forward runs under ``torch.autocast``
  (``'bf16'``/``'fp16'``) and every recorded teacher tensor is cast back to
  fp32 before any connector or loss sees it.
* ``teacher_norm_eval``: MMRazor's own option; ``False`` runs the teacher's
  normalisation layers on batch statistics (overhaul distillation, Heo et
  al., ICCV 2019, reports this better than running statistics) while the
  rest of the teacher stays in eval mode (no dropout). The running
  statistics are not updated, so the teacher stored in the checkpoint and
  its validation mIoU stay those of the trained teacher.
"""
import contextlib
from typing import Iterable, Iterator

import torch.nn as nn
from mmengine.model import BaseModel
from torch.nn.modules.batchnorm import _BatchNorm

from mmseg_attnkd.utils.precision import autocast_for, to_float32

__all__ = ['frozen_teacher_pass', 'set_teacher_norm_batch_stats']


@contextlib.contextmanager
def frozen_teacher_pass(teacher: BaseModel,
                        features_only: bool = True,
                        precision: str = 'fp32',
                        recorders: Iterable = ()) -> Iterator[None]:
    """Patch ``teacher.forward`` while active (one patch, undone on exit).

    Args:
        teacher: The frozen teacher.
        features_only: Run ``mode='loss'`` as ``mode='tensor'``.
        precision: ``'fp32'``, ``'bf16'`` or ``'fp16'`` (autocast dtype).
        recorders: The teacher's MMRazor recorders; after a reduced-precision
            forward their ``data_buffer`` entries become fp32 tensors of
            the same shapes.
    """
    forward = teacher.forward
    recorders = list(recorders)

    def run(inputs, data_samples=None, mode='tensor'):
        if features_only and mode == 'loss':
            mode = 'tensor'
        with autocast_for(teacher, precision):
            out = forward(inputs, data_samples, mode)
        if precision != 'fp32':
            for recorder in recorders:
                recorder.data_buffer[:] = to_float32(recorder.data_buffer)
            out = to_float32(out)
        return out

    teacher.forward = run
    try:
        yield
    finally:
        del teacher.forward


def set_teacher_norm_batch_stats(teacher: nn.Module) -> int:
    """Put every BatchNorm of ``teacher`` in train mode without updating its
    running statistics (``track_running_stats`` off while training; eval
    mode still uses the stored statistics). Returns the number of layers."""
    count = 0
    for module in teacher.modules():
        if isinstance(module, _BatchNorm):
            module.train()
            module.track_running_stats = False
            count += 1
    return count
