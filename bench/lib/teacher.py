# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""A trained teacher as plain weights: saved small, found by SHA-256.

A protocol's teacher is restored on another machine only with its weights:
:func:`plain_teacher` writes them (``meta`` + ``state_dict``) and records
their SHA-256, :func:`find_teacher` finds a file with that digest.
"""
import glob
import os.path as osp
from typing import Optional


def plain_teacher(checkpoint: str, work_dir: str) -> dict:
    """The teacher's weights alone (``meta`` + ``state_dict``), its path
    and SHA-256: small enough to commit and to restore the protocol on
    another machine."""
    from mmseg_attnkd.release.publish import sha256_of_file
    from mmseg_attnkd.utils import (get_state_dict, load_checkpoint_safely,
                                    make_plain_checkpoint,
                                    save_checkpoint_atomic)
    path = osp.join(work_dir, 'teacher_plain.pth')
    state = get_state_dict(load_checkpoint_safely(checkpoint))
    save_checkpoint_atomic(make_plain_checkpoint(state), path)
    return dict(plain_checkpoint=path, plain_sha256=sha256_of_file(path))


def find_teacher(folder: str, sha256: Optional[str]) -> Optional[str]:
    """A ``.pth`` under ``folder`` with this SHA-256, if any."""
    from mmseg_attnkd.release.publish import sha256_of_file
    if not sha256 or not osp.isdir(folder):
        return None
    for path in sorted(glob.glob(osp.join(folder, '*.pth'))):
        if sha256_of_file(path) == sha256:
            return path
    return None
