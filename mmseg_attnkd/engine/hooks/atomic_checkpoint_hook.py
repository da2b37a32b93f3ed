# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""A ``CheckpointHook`` whose files are never left half-written.

MMEngine 0.10.7 writes ``iter_N.pth`` straight to its final name, rewrites
``last_checkpoint`` in place (``open(..., 'w')`` truncates it first) and, with
``max_keep_ckpts``, deletes the oldest checkpoint *before* writing the new
one. A process killed while saving (SIGKILL, OOM killer, pre-empted node) can
therefore leave

* a truncated ``iter_N.pth`` that looks like the newest checkpoint,
* an empty ``last_checkpoint`` (``--resume`` then silently starts again
  from iteration 0), or
* with ``max_keep_ckpts=1``, ``last_checkpoint`` naming a file that was
  already deleted (``--resume`` fails).

:class:`AtomicCheckpointHook` keeps every MMEngine option and lets MMEngine
do the saving; it only changes *how* and *when* files are written, through
public extension points:

1. checkpoints are written by MMEngine's ``save_checkpoint`` into the file
   backend :class:`~mmseg_attnkd.utils.checkpoint.AtomicLocalBackend`
   (``backend_args=dict(backend='atomic_local')``): a hidden
   ``.<name>.partial`` file, ``fsync``, then :func:`os.replace`;
2. after each save, ``last_checkpoint`` is written again the same way, so it
   is on disk before anything is deleted;
3. ``max_keep_ckpts`` is applied by this hook, after steps 1 and 2 (MMEngine
   is given ``max_keep_ckpts=-1``, so it deletes nothing first);
4. before a run, left-over ``.partial`` files are removed and a
   ``last_checkpoint`` that is empty or names a missing file (a kill inside
   MMEngine's in-place rewrite, a window of two system calls) is pointed
   back at the newest complete checkpoint.

Remote backends (``backend_args`` with another backend, ``file_client_args``
or a URI ``out_dir``) keep MMEngine's behaviour.
"""
import glob
import os
import os.path as osp
import re
from typing import List, Optional

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

from ...utils.checkpoint import (ATOMIC_BACKEND, PARTIAL_SUFFIX,
                                 AtomicLocalBackend, atomic_write_text)

__all__ = ['AtomicCheckpointHook']

#: Message-hub key of the checkpoints kept for ``max_keep_ckpts``.
KEPT_INFO_KEY = 'atomic_keep_ckpts'


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """:class:`~mmengine.hooks.CheckpointHook` with crash-safe writes.

    Drop-in replacement: every argument of ``CheckpointHook`` is accepted
    and behaves the same, only the order and the way files are written
    change (see the module docstring). Use it in a config with::

        default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))

    or, on top of an MMSeg base config, ``default_hooks.checkpoint.type=
    'AtomicCheckpointHook'`` (the other checkpoint settings are kept).

    Args:
        interval: As in ``CheckpointHook``.
        fsync: ``fsync`` checkpoint data before renaming it, so a power
            loss cannot leave an empty file under the final name either.
            Costs one disk flush per checkpoint. Defaults to True.
        **kwargs: Arguments of :class:`~mmengine.hooks.CheckpointHook`
            (``interval``, ``by_epoch``, ``max_keep_ckpts``, ``save_best``,
            ...).
    """

    def __init__(self, interval: int = -1, fsync: bool = True,
                 **kwargs) -> None:
        self.fsync = fsync
        out_dir = kwargs.get('out_dir')
        self.atomic = (kwargs.get('backend_args') is None
                       and kwargs.get('file_client_args') is None
                       and not (isinstance(out_dir, str) and '://' in out_dir))
        self.keep_ckpts = int(kwargs.get('max_keep_ckpts', -1))
        if self.atomic:
            kwargs['backend_args'] = dict(backend=ATOMIC_BACKEND, fsync=fsync)
            # rotation happens here, after the new file is complete
            kwargs['max_keep_ckpts'] = -1
        super().__init__(interval, **kwargs)
        self._kept: List[str] = []

    # ------------------------------------------------------------------
    def _is_atomic(self) -> bool:
        return self.atomic and isinstance(
            getattr(self, 'file_backend', None), AtomicLocalBackend)

    def before_run(self, runner) -> None:
        """Point a broken ``last_checkpoint`` back at a complete file."""
        super().before_run(runner)
        if self.atomic and is_main_process():
            self._repair_last_checkpoint(runner)

    def before_train(self, runner) -> None:
        """Set up the output folder, remove stale ``.partial`` files and
        restore the list of kept checkpoints of a resumed run."""
        super().before_train(runner)
        if not self._is_atomic():
            return
        if is_main_process() and osp.isdir(self.out_dir):
            for name in os.listdir(self.out_dir):
                if name.startswith('.') and name.endswith(PARTIAL_SUFFIX):
                    os.remove(osp.join(self.out_dir, name))
                    runner.logger.warning(
                        f'Removed {name}: an incomplete file left by an '
                        'interrupted save.')
        hub = runner.message_hub
        kept = list(hub.get_info(KEPT_INFO_KEY, None) or [])
        # a checkpoint holds the list as it was before that checkpoint was
        # added; the resumed checkpoint itself is its 'last_ckpt'
        last = hub.get_info('last_ckpt', None)
        if last and last not in kept:
            kept.append(last)
        self._kept = kept
        self._rotate(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        """MMEngine's periodic save, then pointer and rotation."""
        before = self.last_ckpt
        super().after_train_iter(runner, batch_idx, data_batch, outputs)
        self._after_save(runner, before)

    def after_train_epoch(self, runner) -> None:
        """MMEngine's per-epoch save, then pointer and rotation."""
        before = self.last_ckpt
        super().after_train_epoch(runner)
        self._after_save(runner, before)

    def after_train(self, runner) -> None:
        """MMEngine's ``save_last``, then pointer and rotation."""
        before = self.last_ckpt
        super().after_train(runner)
        self._after_save(runner, before)

    # ------------------------------------------------------------------
    def _after_save(self, runner, before: Optional[str]) -> None:
        if not self._is_atomic() or self.last_ckpt == before:
            return
        if is_main_process():
            # MMEngine rewrote it in place; make the new pointer durable
            # before any old checkpoint is deleted
            atomic_write_text(osp.join(runner.work_dir, 'last_checkpoint'),
                              self.last_ckpt, fsync=self.fsync)
        if self.last_ckpt not in self._kept:
            self._kept.append(self.last_ckpt)
        self._rotate(runner)

    def _rotate(self, runner) -> None:
        """Delete the oldest kept checkpoints beyond ``max_keep_ckpts``."""
        if self.keep_ckpts > 0:
            while len(self._kept) > self.keep_ckpts:
                old = self._kept.pop(0)
                if is_main_process() and old != self.last_ckpt:
                    if osp.isfile(old):
                        os.remove(old)
        runner.message_hub.update_info(KEPT_INFO_KEY, list(self._kept))

    def _repair_last_checkpoint(self, runner) -> None:
        pointer = osp.join(runner.work_dir, 'last_checkpoint')
        if not osp.isfile(pointer):
            return
        with open(pointer) as f:
            target = f.read().strip()
        if target and osp.isfile(target):
            return
        newest = self._newest_checkpoint(runner)
        if newest is None:
            os.remove(pointer)
        else:
            atomic_write_text(pointer, newest, fsync=self.fsync)
        runner.logger.warning(
            f'last_checkpoint named {target or "nothing"!r} (an interrupted '
            f'save); it now names {newest or "nothing"}.')

    def _newest_checkpoint(self, runner) -> Optional[str]:
        """The complete checkpoint with the highest step in the output
        folder (as :meth:`before_train` will resolve it)."""
        out_dir = self.out_dir or runner.work_dir
        if out_dir != runner.work_dir:
            out_dir = osp.join(out_dir,
                               osp.basename(runner.work_dir.rstrip(osp.sep)))
        pattern = re.escape(self.filename_tmpl).replace(r'\{\}', r'(\d+)')
        found = []
        for path in glob.glob(osp.join(out_dir, '*')):
            match = re.fullmatch(pattern, osp.basename(path))
            if match:
                found.append((int(match.group(1)), path))
        return max(found)[1] if found else None
