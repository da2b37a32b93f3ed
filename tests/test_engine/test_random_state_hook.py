# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""RandomStateHook: a resumed run, and a run that validates more often,
train on the same random numbers as one uninterrupted run.

The tiny FCN has dropout (torch's generator) and the train pipeline a
random flip (NumPy's), and validation after every iteration draws a
dataloader seed from torch's generator, so without the hook the weights
differ (the control below).
"""
import copy
import gc
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmseg.registry import HOOKS

from mmseg_attnkd.engine import RandomStateHook  # noqa: F401
from mmseg_attnkd.testing import (synthetic_dataset_cfg, tiny_fcn_cfg,
                                  tiny_runtime_cfg)
from mmseg_attnkd.utils import load_checkpoint_safely


@HOOKS.register_module(name='StopAfterIterForTest', force=True)
class StopAfterIter(Hook):
    """Ends training after iteration ``at`` (after its checkpoint)."""

    priority = 'LOWEST'

    def __init__(self, at: int):
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.at:
            runner.train_loop.stop_training = True


def _cfg(data_root, work_dir, workers=0, val_interval=1, hook=True,
         stop_at=None, resume=False):
    cfg = tiny_runtime_cfg(work_dir, max_iters=4, val_interval=val_interval,
                           checkpoint_interval=2)
    cfg.update(synthetic_dataset_cfg(data_root, num_classes=4, batch_size=2))
    # a worker process draws the flips; validation stays in this process
    cfg['train_dataloader']['num_workers'] = workers
    cfg['model'] = tiny_fcn_cfg(4, 4)
    cfg['model']['decode_head']['dropout_ratio'] = 0.5
    cfg['default_hooks'].pop('visualization')
    cfg['custom_hooks'] = ([dict(type='RandomStateHook')] if hook else []) + \
        ([dict(type='StopAfterIterForTest', at=stop_at)] if stop_at else [])
    cfg['resume'] = resume
    return cfg


def _train(cfg) -> dict:
    runner = Runner.from_cfg(Config(copy.deepcopy(cfg)))
    runner.train()
    state = {k: v.clone() for k, v in runner.model.state_dict().items()}
    # drop the train iterator first, so that its workers are told to stop
    # while their queues are alive: freed inside the runner's reference
    # cycle, each worker waited out its 5 s join timeout
    runner.train_loop.dataloader_iterator = None
    del runner
    gc.collect()
    return state


def _interrupted_then_resumed(data_root, work_dir, **kwargs) -> dict:
    _train(_cfg(data_root, work_dir, stop_at=2, **kwargs))
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    assert not osp.isfile(osp.join(work_dir, 'iter_4.pth'))
    return _train(_cfg(data_root, work_dir, resume=True, **kwargs))


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize('workers', [0, 1])
def test_resume_trains_on_the_same_random_numbers(tmp_path, synthetic_data,
                                                   workers):
    straight = _train(_cfg(synthetic_data, str(tmp_path / 'a'), workers))
    resumed = _interrupted_then_resumed(synthetic_data, str(tmp_path / 'b'),
                                        workers=workers)
    assert _same(straight, resumed)
    state = load_checkpoint_safely(str(tmp_path / 'b' / 'iter_2.pth'))[
        'random_state']
    assert set(state) >= {'python', 'numpy', 'torch'}
    assert state['torch'].dtype == torch.uint8


def test_validation_leaves_the_random_stream_alone(tmp_path, synthetic_data):
    every = _train(_cfg(synthetic_data, str(tmp_path / 'a'), val_interval=1))
    at_end = _train(_cfg(synthetic_data, str(tmp_path / 'b'), val_interval=4))
    assert _same(every, at_end)


def test_without_the_hook_a_resumed_run_differs(tmp_path, synthetic_data):
    # the control: the setting above is sensitive to the random stream
    straight = _train(_cfg(synthetic_data, str(tmp_path / 'a'), hook=False))
    resumed = _interrupted_then_resumed(synthetic_data, str(tmp_path / 'b'),
                                        hook=False)
    assert not _same(straight, resumed)
    assert 'random_state' not in load_checkpoint_safely(
        str(tmp_path / 'b' / 'iter_2.pth'))


class _Logger:
    def __init__(self):
        self.warnings = []

    def warning(self, msg):
        self.warnings.append(msg)


def _stub_runner(it, randomness=None, workers=1):
    from types import SimpleNamespace
    return SimpleNamespace(
        iter=it, logger=_Logger(),
        cfg=dict(randomness=randomness or {},
                 train_dataloader=dict(num_workers=workers)))


def _restored_after_before_train(runner, monkeypatch, world_size=1) -> bool:
    from mmseg_attnkd.engine.hooks import random_state_hook as mod
    monkeypatch.setattr(mod, 'get_world_size', lambda: world_size)
    torch.manual_seed(1)
    saved = mod.get_random_state()
    expected = torch.rand(3)
    torch.manual_seed(2)
    hook = mod.RandomStateHook()
    hook.after_load_checkpoint(runner, {'random_state': saved})
    hook.before_train(runner)
    return torch.equal(torch.rand(3), expected)


def test_states_are_restored_on_resume_only(monkeypatch):
    assert _restored_after_before_train(_stub_runner(2), monkeypatch)
    # load_from alone: the run starts at iteration 0 from its own seed
    assert not _restored_after_before_train(_stub_runner(0), monkeypatch)


def test_per_rank_seeds_are_not_overwritten_by_rank_0s(monkeypatch):
    shared = _stub_runner(2, dict(seed=0))
    assert _restored_after_before_train(shared, monkeypatch, world_size=2)
    per_rank = _stub_runner(2, dict(seed=0, diff_rank_seed=True))
    assert not _restored_after_before_train(per_rank, monkeypatch,
                                            world_size=2)
    assert 'diff_rank_seed=True' in per_rank.logger.warnings[0]
