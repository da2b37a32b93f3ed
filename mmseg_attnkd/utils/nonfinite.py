# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""What a NaN/Inf loss is, and the error that names it.

Shared by :class:`~mmseg_attnkd.engine.NonFiniteLossHook` (after the step)
and :class:`~mmseg_attnkd.models.algorithms.NonFiniteLossGuardMixin`
(before the update); it sits below both so that neither layer imports the
other.
"""
import math
from typing import Dict, Optional

__all__ = ['FIX_HINT', 'nonfinite_losses', 'nonfinite_message']

#: What to change; shared by the hook and the algorithms' own check.
FIX_HINT = ('Fix: lower the learning rate or that loss\'s loss_weight, '
            'enable gradient clipping (optim_wrapper.clip_grad=dict('
            'max_norm=10)), check the inputs and labels of this batch, or set '
            "nonfinite_loss='skip' on the algorithm to skip such steps.")


def nonfinite_losses(values: Dict[str, float]) -> Dict[str, float]:
    """The entries of ``values`` whose name contains ``loss`` and whose value
    is NaN or Inf (the names ``BaseModel.parse_losses`` sums)."""
    return {k: v for k, v in values.items()
            if 'loss' in k and not math.isfinite(v)}


def nonfinite_message(bad: Dict[str, float], iteration: Optional[int],
                      state: str) -> str:
    """The error for non-finite losses.

    Args:
        bad: Loss name -> value (from :func:`nonfinite_losses`).
        iteration: 1-based iteration, as in the logs; None outside a runner.
        state: What the stop preserved, e.g. ``'so the weights are still
            finite'``.
    """
    where = f'at iteration {iteration}' if iteration is not None else \
        '(outside a runner)'
    listed = ', '.join(f'{k}={v}' for k, v in bad.items())
    return (f'non-finite loss {where}: {listed}. Training stopped {state}. '
            f'{FIX_HINT}')
