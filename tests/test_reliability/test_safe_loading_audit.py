# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Every checkpoint load in the project is weights-only.

A static audit of the package and the tools (so a new ``torch.load`` that
bypasses :func:`mmseg_attnkd.utils.load_checkpoint_safely` fails here),
plus the runtime check that MMEngine's loader, which ``--resume``,
``load_from``, ``init_model`` and MMRazor's ``teacher_ckpt`` use, refuses a
pickle payload without running it.
"""
import glob
import os.path as osp
import re

import pytest
import torch

from _pickle_payloads import FileCreatingPayload

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The one place allowed to call torch.load (``compat.torch_load``:
#: weights-only unless the user opts in explicitly).
ALLOWED = {osp.join('mmseg_attnkd', 'compat.py')}
UNSAFE_PATTERNS = [
    (re.compile(r'\btorch\.load\s*\('), 'torch.load outside '
     'compat.torch_load'),
    (re.compile(r'weights_only\s*=\s*False'), 'weights_only=False'),
    (re.compile(r'\bpickle\.loads?\s*\('), 'pickle.load'),
    (re.compile(r'allow_pickle\s*=\s*True'), 'np.load(allow_pickle=True)'),
    (re.compile(r'\btorch\.serialization\.load\s*\('), 'torch.serialization'),
]


def _project_files():
    for folder in ('mmseg_attnkd', 'tools', 'demo'):
        yield from glob.glob(osp.join(REPO, folder, '**', '*.py'),
                             recursive=True)


def test_no_unsafe_load_calls_in_project():
    offenders = []
    for path in _project_files():
        rel = osp.relpath(path, REPO)
        if rel in ALLOWED:
            continue
        for lineno, line in enumerate(open(path, encoding='utf-8'), 1):
            code = line.split('#', 1)[0]
            for pattern, what in UNSAFE_PATTERNS:
                if pattern.search(code):
                    offenders.append(f'{rel}:{lineno}: {what}')
    assert not offenders, '\n'.join(offenders)


def test_mmengine_loader_used_by_resume_refuses_payload(tmp_path):
    import pickle

    from mmengine.runner.checkpoint import _load_checkpoint
    marker = str(tmp_path / 'ran')
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={}, meta=FileCreatingPayload(marker)), path)
    with pytest.raises(pickle.UnpicklingError,
                       match='Weights only load failed'):
        _load_checkpoint(path, map_location='cpu')
    assert not osp.exists(marker)


def test_resume_state_loads_through_allow_list(tmp_path):
    """What Runner.resume reads (message hub, numpy, optimizer) loads."""
    import numpy as np
    from mmengine.logging import MessageHub
    from mmengine.runner.checkpoint import _load_checkpoint
    hub = MessageHub('audit')
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_info('keep_ckpt_ids', [1, 2])
    path = str(tmp_path / 'ok.pth')
    torch.save(dict(state_dict=dict(w=torch.ones(2)),
                    message_hub=hub.state_dict(), meta=dict(seed=0)), path)
    ckpt = _load_checkpoint(path, map_location='cpu')
    assert ckpt['message_hub']['runtime_info']['keep_ckpt_ids'] == [1, 2]
