# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Stop training at the first NaN/Inf loss, before it is logged or saved.

Modelled on MMDetection's ``CheckInvalidLossHook``: the check runs after the
iteration, on the loss values MMEngine has already logged, so it costs no
device synchronisation of its own (``RuntimeInfoHook`` turns every logged
value into a Python float each iteration anyway).
"""
from typing import Optional

from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from ...utils.nonfinite import nonfinite_losses, nonfinite_message

__all__ = ['NonFiniteLossHook', 'nonfinite_losses', 'nonfinite_message']


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
