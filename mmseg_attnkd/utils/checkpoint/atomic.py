# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The project's one way to write a file that is never seen half-written.

Every file a reader may pick up while it is being written (checkpoints of
the training hook, exported and published checkpoints, ``last_checkpoint``,
metafiles) goes through :func:`atomic_write_bytes`:

1. the bytes go to a hidden ``.<name>.partial`` file in the same folder,
2. are flushed to disk (``fsync``),
3. the file is renamed onto its final name with :func:`os.replace` (atomic
   on POSIX and Windows), and the folder entry is flushed too.

An interruption (SIGKILL, OOM killer, power loss) leaves either the old file
or the new one under the final name, and at most a ``.partial`` file beside
it. :class:`AtomicLocalBackend` offers the same as an MMEngine file backend
(``backend_args=dict(backend='atomic_local')``), which is how MMEngine's own
``save_checkpoint`` writes atomically without any of its code copied.
"""
import io
import os
import os.path as osp
from typing import Union

import torch
from mmengine.fileio import LocalBackend, register_backend

__all__ = [
    'PARTIAL_SUFFIX', 'partial_path', 'fsync_path', 'atomic_write_bytes',
    'atomic_write_text', 'save_checkpoint_atomic', 'AtomicLocalBackend',
    'ATOMIC_BACKEND'
]

#: Suffix of files being written; never matched by ``*.pth``.
PARTIAL_SUFFIX = '.partial'

#: Name of :class:`AtomicLocalBackend` in MMEngine's backend registry.
ATOMIC_BACKEND = 'atomic_local'

PathLike = Union[str, os.PathLike]


def partial_path(path: PathLike) -> str:
    """``dir/.name.partial``: where ``dir/name`` is written before renaming."""
    path = os.fspath(path)
    name = f'.{osp.basename(path)}{PARTIAL_SUFFIX}'
    return osp.join(osp.dirname(path), name)


def fsync_path(path: PathLike) -> None:
    """Flush ``path`` (a file or a folder) to disk; best effort on folders."""
    path = os.fspath(path)
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


def _publish(partial: str, final: str, fsync: bool) -> None:
    """Flush ``partial`` and rename it onto ``final`` (see module doc)."""
    if fsync:
        fsync_path(partial)
    os.replace(partial, final)
    if fsync:
        fsync_path(osp.dirname(final) or '.')


def atomic_write_bytes(path: PathLike, data: bytes,
                       fsync: bool = True) -> str:
    """Replace the file ``path`` by ``data`` atomically.

    Args:
        path: Destination file; its folder is created.
        data: New content.
        fsync: Flush data and folder entry to disk, so a power loss cannot
            leave an empty file under the final name either.

    Returns:
        str: ``path``.
    """
    path = os.fspath(path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    partial = partial_path(path)
    # LocalBackend.put is the plain write; going through it keeps one code
    # path for the checkpoint hook and every other writer (and lets the
    # crash-injection tests interrupt it).
    LocalBackend().put(data, partial)
    _publish(partial, path, fsync)
    return path


def atomic_write_text(path: PathLike, text: str, fsync: bool = True,
                      encoding: str = 'utf-8') -> str:
    """:func:`atomic_write_bytes` for text."""
    return atomic_write_bytes(path, text.encode(encoding), fsync)


def save_checkpoint_atomic(obj: dict, filename: PathLike,
                           fsync: bool = True) -> str:
    """``torch.save`` ``obj`` to ``filename`` atomically (see module doc).

    Returns:
        str: ``filename``.
    """
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(filename, buf.getvalue(), fsync)


@register_backend(ATOMIC_BACKEND)
class AtomicLocalBackend(LocalBackend):
    """MMEngine's local file backend whose writes are atomic and durable.

    ``put``/``put_text`` go through :func:`atomic_write_bytes`; everything
    else (reads, ``remove``, ``join_path``, ...) is MMEngine's. Selected by
    ``backend_args=dict(backend='atomic_local')`` wherever MMEngine accepts
    backend arguments (``CheckpointHook``, ``Runner.save_checkpoint``,
    :func:`mmengine.fileio.get_file_backend`).

    Args:
        fsync: Flush every written file and its folder entry to disk.
    """

    def __init__(self, fsync: bool = True) -> None:
        super().__init__()
        self.fsync = fsync

    def put(self, obj: bytes, filepath: PathLike) -> None:
        """Write ``obj`` to ``filepath`` atomically."""
        atomic_write_bytes(filepath, obj, self.fsync)

    def put_text(self, obj: str, filepath: PathLike,
                 encoding: str = 'utf-8') -> None:
        """Write the text ``obj`` to ``filepath`` atomically."""
        atomic_write_text(filepath, obj, self.fsync, encoding)
