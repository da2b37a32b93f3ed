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

:class:`AtomicCheckpointHook` keeps every MMEngine option and behaviour but
orders the work so that none of these states can exist on a local disk:

1. the checkpoint is written to a hidden ``.<name>.partial`` file in the same
   folder, flushed to disk (``fsync``) and renamed onto its final name with
   :func:`os.replace` (atomic on POSIX and Windows);
2. ``last_checkpoint`` is replaced the same way, only after step 1;
3. checkpoints beyond ``max_keep_ckpts`` are deleted last.

Left-over ``.partial`` files from a killed run are removed in
``before_train``. Remote backends (``backend_args`` pointing to Petrel, ...)
fall back to MMEngine's behaviour.
"""
import os
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmengine.registry import HOOKS

__all__ = ['AtomicCheckpointHook', 'atomic_write_text', 'PARTIAL_SUFFIX']

#: Suffix of checkpoints being written; never matched by ``*.pth``.
PARTIAL_SUFFIX = '.partial'


def _fsync_path(path: str) -> None:
    """Flush ``path`` (a file or a folder) to disk; best effort on folders."""
    flags = os.O_RDONLY | getattr(os, 'O_DIRECTORY', 0) \
        if osp.isdir(path) else os.O_RDONLY
    try:
        fd = os.open(path, flags)
    except OSError:  # e.g. folders cannot be opened on Windows
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: str, text: str, fsync: bool = True) -> None:
    """Replace the text file ``path`` atomically (temp file + rename).

    Args:
        path: Destination file.
        text: New content.
        fsync: Flush the data to disk before the rename.
    """
    tmp = osp.join(osp.dirname(path) or '.',
                   f'.{osp.basename(path)}{PARTIAL_SUFFIX}')
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        if fsync:
            os.fsync(f.fileno())
    os.replace(tmp, path)


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
        fsync: ``fsync`` checkpoint data before renaming it, so a power
            loss cannot leave an empty file under the final name either.
            Costs one disk flush per checkpoint. Defaults to True.
        **kwargs: Arguments of :class:`~mmengine.hooks.CheckpointHook`
            (``interval``, ``by_epoch``, ``max_keep_ckpts``, ``save_best``,
            ...).
    """

    def __init__(self, *args, fsync: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fsync = fsync

    # ------------------------------------------------------------------
    def _is_local(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

    def before_train(self, runner) -> None:
        """Set up the output folder and remove stale ``.partial`` files."""
        super().before_train(runner)
        if not (self._is_local() and is_main_process()):
            return
        if not osp.isdir(self.out_dir):
            return
        for name in os.listdir(self.out_dir):
            if name.startswith('.') and name.endswith(PARTIAL_SUFFIX):
                os.remove(osp.join(self.out_dir, name))
                runner.logger.warning(
                    f'Removed {name}: an incomplete checkpoint left by an '
                    'interrupted save.')

    def _partial_name(self, filename: str) -> str:
        return f'.{filename}{PARTIAL_SUFFIX}'

    def save_atomically(self, runner, filename: str,
                        meta: Optional[dict] = None) -> str:
        """Write ``runner``'s checkpoint to ``out_dir/filename`` atomically.

        Args:
            runner: The runner.
            filename: Final file name, e.g. ``iter_4.pth``.
            meta: Extra ``meta`` entries (epoch, iter).

        Returns:
            str: Full path of the checkpoint.
        """
        final = self.file_backend.join_path(self.out_dir, filename)
        partial = self._partial_name(filename)
        # Runner.save_checkpoint is master-only: other ranks write nothing.
        runner.save_checkpoint(
            self.out_dir,
            partial,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if is_main_process():
            self._publish(osp.join(self.out_dir, partial), final)
        return final

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """MMEngine's best-checkpoint logic with atomic file writes.

        The previous best file is still removed before the new one is
        written (as in MMEngine), but the new one never appears truncated.
        """
        if not self._is_local() or not self.save_best:
            return super()._save_best_checkpoint(runner, metrics)
        original = runner.save_checkpoint

        def save_checkpoint(out_dir, filename, *args, **kwargs):
            if filename.startswith('.') and filename.endswith(PARTIAL_SUFFIX):
                return original(out_dir, filename, *args, **kwargs)
            partial = self._partial_name(filename)
            original(out_dir, partial, *args, **kwargs)
            if is_main_process():
                self._publish(osp.join(out_dir, partial),
                              osp.join(out_dir, filename))

        runner.save_checkpoint = save_checkpoint  # this call only
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            del runner.save_checkpoint

    def _publish(self, partial: str, final: str) -> None:
        """Flush ``partial`` and rename it onto ``final``."""
        if self.fsync:
            _fsync_path(partial)
        os.replace(partial, final)
        if self.fsync:
            _fsync_path(osp.dirname(final) or '.')

    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        if not self._is_local():
            return super()._save_checkpoint_with_step(runner, step, meta)
        outdated = None
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                outdated = self.keep_ckpt_ids.popleft()
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self.save_atomically(runner, ckpt_filename, meta)

        if not is_main_process():
            return
        atomic_write_text(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt,
            fsync=self.fsync)
        if outdated is not None and outdated != step:
            old = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(outdated))
            if self.file_backend.isfile(old):
                self.file_backend.remove(old)
            elif self.file_backend.isdir(old):
                self.file_backend.rmtree(old)
