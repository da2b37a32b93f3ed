# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Stop training at the first NaN/Inf loss, before it is logged or saved.

Modelled on MMDetection's ``CheckInvalidLossHook``: the check runs after the
iteration, on the loss values MMEngine has already logged, so it costs no
device synchronisation of its own (``RuntimeInfoHook`` turns every logged
value into a Python float each iteration anyway).
"""
import math
from typing import Dict, Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

__all__ = ['NonFiniteLossHook', 'nonfinite_losses', 'nonfinite_message']

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


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Raise :class:`FloatingPointError` when a logged loss is NaN or Inf.

    Runs after ``RuntimeInfoHook`` has logged the iteration's losses and
    before ``LoggerHook`` and ``CheckpointHook`` (priority ``ABOVE_NORMAL``),
    so the step with the bad loss is neither written to the logs nor saved:
    the last checkpoint is finite and ``--resume`` continues from it. The
    optimizer step of that iteration has already run, so the weights in
    memory may not be finite any more; the algorithms'
    ``nonfinite_loss='raise'`` checks *before* the update instead, at the
    cost of one device synchronisation per step (see
    :class:`~mmseg_attnkd.models.algorithms.NonFiniteLossGuardMixin`).

    Use it in a config with::

        custom_hooks = [dict(type='NonFiniteLossHook')]

    Args:
        interval: Check every ``interval`` iterations. The check reads the
            floats already logged, so 1 (the default) costs no device sync.
    """

    priority = 'ABOVE_NORMAL'

    def __init__(self, interval: int = 1) -> None:
        if int(interval) < 1:
            raise ValueError(f'NonFiniteLossHook: interval must be >= 1, '
                             f'got {interval!r}.')
        self.interval = int(interval)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Check the losses of this iteration (see class doc)."""
        if not outputs or not self.every_n_train_iters(runner, self.interval):
            return
        hub = runner.message_hub
        values = {}
        for key in outputs:
            if 'loss' in key and f'train/{key}' in hub.log_scalars:
                values[key] = hub.get_scalar(f'train/{key}').current()
        bad = nonfinite_losses(values)
        if len(bad) > 1:  # name the culprits, not also their sum
            bad.pop('loss', None)
        if bad:
            raise FloatingPointError(nonfinite_message(
                bad, runner.iter + 1,
                'before this step was logged or checkpointed, so the last '
                'checkpoint is finite'))
