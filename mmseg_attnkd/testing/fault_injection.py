# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Hooks that crash or dump state on purpose, for reliability tests.

Not imported by ``mmseg_attnkd``; a test config lists this module in
``custom_imports``. The crash hooks do nothing unless their environment
variable is set, so the same config trains normally when resumed.
"""
import os
import os.path as osp
import signal
from typing import Optional, Sequence

import torch
from mmengine.dist import get_rank
from mmengine.fileio import LocalBackend
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

__all__ = [
    'CrashAfterIterHook', 'CrashDuringCheckpointWriteHook', 'DumpStateHook',
    'CRASH_AFTER_ITER_ENV', 'CRASH_DURING_SAVE_ENV', 'crash_env'
]

#: 1-based iteration after which :class:`CrashAfterIterHook` SIGKILLs.
CRASH_AFTER_ITER_ENV = 'MMSEG_ATTNKD_CRASH_AFTER_ITER'
#: Which checkpoint save (1-based) :class:`CrashDuringCheckpointWriteHook`
#: interrupts.
CRASH_DURING_SAVE_ENV = 'MMSEG_ATTNKD_CRASH_DURING_SAVE'


def _sigkill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class CrashAfterIterHook(Hook):
    """SIGKILL the process after iteration ``$MMSEG_ATTNKD_CRASH_AFTER_ITER``.

    Runs after every other ``after_train_iter`` hook (lowest priority), so a
    checkpoint due at that iteration is written first.
    """

    priority = 'LOWEST'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        target = os.environ.get(CRASH_AFTER_ITER_ENV)
        if target and runner.iter + 1 == int(target):
            _sigkill_self()


@HOOKS.register_module()
class CrashDuringCheckpointWriteHook(Hook):
    """SIGKILL the process half-way through writing a checkpoint file.

    On the ``$MMSEG_ATTNKD_CRASH_DURING_SAVE``-th checkpoint save, the local
    file backend writes the first half of the bytes, flushes them to disk
    and kills the process, as a pre-emption or OOM kill would.
    """

    def __init__(self) -> None:
        self.saves = 0

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        target = os.environ.get(CRASH_DURING_SAVE_ENV)
        self.saves += 1
        if not target or self.saves != int(target):
            return

        def put_half_then_die(backend, obj: bytes, filepath) -> None:
            with open(filepath, 'wb') as f:
                f.write(obj[:len(obj) // 2])
                f.flush()
                os.fsync(f.fileno())
            _sigkill_self()

        LocalBackend.put = put_half_then_die


@HOOKS.register_module()
class DumpStateHook(Hook):
    """Save each rank's model state dict after given iterations.

    Writes ``{out_dir}/rank{r}_iter{n}.pth`` (``torch.save`` of the
    unwrapped model's ``state_dict``) after iteration ``n`` (1-based) for
    every ``n`` in ``iters``, on every rank.

    Args:
        out_dir: Output folder (created).
        iters: 1-based iterations to dump after.
    """

    priority = 'LOWEST'

    def __init__(self, out_dir: str, iters: Sequence[int] = (1, )) -> None:
        self.out_dir = out_dir
        self.iters = set(int(i) for i in iters)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        n = runner.iter + 1
        if n not in self.iters:
            return
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        os.makedirs(self.out_dir, exist_ok=True)
        state = {
            k: v.detach().cpu().clone()
            for k, v in model.state_dict().items()
        }
        torch.save(state, osp.join(self.out_dir,
                                   f'rank{get_rank()}_iter{n}.pth'))


def crash_env(after_iter: Optional[int] = None,
              during_save: Optional[int] = None) -> dict:
    """Environment entries that arm the crash hooks."""
    env = {}
    if after_iter is not None:
        env[CRASH_AFTER_ITER_ENV] = str(after_iter)
    if during_save is not None:
        env[CRASH_DURING_SAVE_ENV] = str(during_save)
    return env
