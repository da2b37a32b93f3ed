# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Paired initial weights: the plain student is initialised once per
(architecture, seed) and loaded by every arm before its first step.
"""
import hashlib
import os
import os.path as osp
from typing import Dict

from bench.lib import common, runs
from bench.sstem.arms import arm_model, build


# ---------------------------------------------------------------------------
# paired initial weights
# ---------------------------------------------------------------------------
def state_digest(state: Dict) -> str:
    """SHA-256 of a state dict (keys and exact tensor bytes, sorted)."""
    digest = hashlib.sha256()
    for key in sorted(state):
        value = state[key]
        digest.update(key.encode())
        if hasattr(value, 'detach'):
            arr = value.detach().cpu().contiguous()
            digest.update(f'{arr.dtype}{tuple(arr.shape)}'.encode())
            digest.update(arr.numpy().tobytes())
    return digest.hexdigest()


def make_initial_weights(arch: str, seed: int, args) -> str:
    """Initialise the plain student once per (arch, seed); return its path."""
    import torch
    from mmengine.runner import set_random_seed
    student = arm_model(arch, 'baseline', args)
    path = osp.join(args.work_root, args.protocol, 'init',
                    f'{arch}_seed{seed}_{runs.config_digest(student)}.pth')
    if osp.isfile(path):
        return path
    set_random_seed(seed)
    model = build(student)
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(arch=arch, seed=seed)), tmp)
    os.replace(tmp, path)
    return path


def student_of(model):
    from mmengine.model import is_model_wrapper
    model = model.module if is_model_wrapper(model) else model
    return getattr(model, 'architecture', model)


def paired_init_hook(init_path: str, seed: int, digest_path: str):
    """A hook that loads the saved student weights before the first step.

    Every arm builds its model under the same seed, but the SD arm also
    builds an axial block, so random states differ after the build; the
    hook therefore loads the saved student (strictly: the same keys in
    every arm) and re-seeds Python, NumPy and torch, so the student's
    weights and the training noise (dropout) start identical in every arm.
    A resumed run (``runner.iter > 0``) keeps its checkpoint.
    """
    from mmengine.hooks import Hook
    from mmengine.runner import set_random_seed

    class PairedInitHook(Hook):
        priority = 'VERY_HIGH'

        def before_train(self, runner) -> None:
            if runner.iter > 0:
                return
            import torch
            student = student_of(runner.model)
            state = torch.load(init_path, map_location='cpu',
                               weights_only=True)['state_dict']
            student.load_state_dict(state, strict=True)
            set_random_seed(seed)
            common.write_text(digest_path,
                              state_digest(student.state_dict()))
            runner.logger.info(f'paired initial student weights from '
                               f'{common.rel(init_path)}')

    return PairedInitHook()
