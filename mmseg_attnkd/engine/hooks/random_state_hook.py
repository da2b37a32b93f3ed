# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Keep a run's random stream a function of its training iterations only.

MMEngine re-seeds a resumed run from ``randomness.seed``, so whatever drew
from the global generators between the start and the checkpoint (dropout,
drop-path, the seed of every dataloader iterator) is drawn again from the
start and a resumed run trains on different random numbers than an
uninterrupted one. And every validation creates a dataloader iterator,
which draws from torch's global generator, so how often a run validates
changes its training. This hook fixes both:

* each checkpoint carries the Python, NumPy, torch and CUDA generator
  states of the training (key ``random_state``), restored on resume;
* the generators are saved before validation and put back after it.

With ``num_workers=0`` the data pipeline draws from the main process's
NumPy and Python generators, and MMEngine's resume replays those draws when
it skips the batches already trained; the hook then restores only torch's
generators (what the model draws from), so the replay is not doubled.
"""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

__all__ = ['RandomStateHook', 'get_random_state', 'set_random_state']

KEY = 'random_state'


def get_random_state() -> dict:
    """The global generators' states, as types ``weights_only`` loading
    accepts (tuples, ints, floats, tensors)."""
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=(version, mt, gauss),
        numpy=(name, torch.from_numpy(keys.astype(np.int64)), int(pos),
               int(has_gauss), float(cached)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_random_state(state: dict, host: bool = True) -> None:
    """Restore :func:`get_random_state`'s output.

    Args:
        state: A dict from :func:`get_random_state`.
        host: Also restore Python's and NumPy's generators (False: torch's
            and CUDA's only).
    """
    if host:
        version, mt, gauss = state['python']
        random.setstate((version, tuple(mt), gauss))
        name, keys, pos, has_gauss, cached = state['numpy']
        np.random.set_state((name, keys.numpy().astype(np.uint32), pos,
                             has_gauss, cached))
    torch.set_rng_state(state['torch'])
    cuda = state.get('cuda')
    if cuda is not None and torch.cuda.is_available() \
            and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Save the generators' states in checkpoints and restore them on
    resume; make validation leave them as it found them.

    In a distributed run the checkpoint holds rank 0's states. They are
    restored on every rank when the ranks share one seed (MMEngine's default,
    ``randomness.diff_rank_seed=False``); with per-rank seeds the hook keeps
    MMEngine's re-seeding and says so in the log.
    """

    priority = 'VERY_LOW'

    def __init__(self) -> None:
        self._before_val: Optional[dict] = None
        self._loaded: Optional[dict] = None

    def before_val(self, runner) -> None:
        self._before_val = get_random_state()

    def after_val(self, runner) -> None:
        if self._before_val is not None:
            set_random_state(self._before_val)
            self._before_val = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # a best checkpoint is saved inside validation: store the training's
        # states, not the ones validation left
        checkpoint[KEY] = (self._before_val if self._before_val is not None
                           else get_random_state())

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        # restored in before_train, once it is known to be a resume
        # (``load_from`` alone starts at iteration 0 and keeps its seed)
        self._loaded = checkpoint.get(KEY)

    def before_train(self, runner) -> None:
        state, self._loaded = self._loaded, None
        if state is None or runner.iter == 0:
            return
        randomness = runner.cfg.get('randomness') or {}
        if get_world_size() > 1 and randomness.get('diff_rank_seed', False):
            runner.logger.warning(
                'RandomStateHook: the checkpoint holds rank 0\'s random '
                'states and this run seeds each rank differently '
                '(randomness.diff_rank_seed=True); they are not restored.')
            return
        loader = runner.cfg.get('train_dataloader') or {}
        set_random_state(state, host=loader.get('num_workers', 0) > 0)
