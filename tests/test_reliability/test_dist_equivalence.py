# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""2 processes x batch b train to the same weights as 1 process x batch 2b.

"Both ranks end equal" (tests/test_reliability/test_dist_*.py) holds for any
gradients, because DDP broadcasts and averages; it does not show that the
distributed run computes the *right* update. Here MMEngine's ``Runner`` (the
path of ``tools/train.py``: ``--launcher pytorch``, gloo and the CPU launcher
fix of ``mmseg_attnkd.compat``, ``MMDistributedDataParallel``, the shared
``InfiniteSampler`` stream) trains a tiny FCN for 3 SGD steps from the same
initial weights on the same images, once as 2 processes with batch 2 each and
once as 1 process with batch 4; the final weights and momentum buffers agree.

Why the model has GroupNorm instead of (Sync)BN: SyncBN has no CPU kernel
(torch raises "SyncBatchNorm expected input tensor to be on GPU ..." for CPU
tensors; ``tools/train.py`` therefore turns it into BN on CPU), and BN
normalises with per-process batch statistics, so with BN 2 x b differs from
1 x 2b by design. GroupNorm normalises each sample on its own, so splitting
a batch across processes changes nothing but the summation order.

Why these batches are the same: ``InfiniteSampler`` gives every rank the same
seeded index stream and rank r takes elements r, r + 2, ...; step t of the
two ranks together therefore uses the same 2b images as step t of the single
process. The pipeline has no random transform. MMSeg's cross-entropy (with
``avg_non_ignore=False``, the default here) divides by all pixels of the
batch, so the mean of the two per-rank means (DDP's gradient averaging) is
the mean over the 2b images.

Tolerance: the runs differ only in float32 summation order (per-rank
gradient sums + allreduce vs one sum over 2b images), i.e. a few ulps of the
gradient entries (float32 eps = 1.2e-7), which SGD with momentum carries
into the weights as a difference of order ``lr * eps * |grad|`` per step.
The test compares the weight *change* of the 2-process run with that of the
1-process run: ``max |d2 - d1| <= 1e-4 * max |d1|`` per tensor (about 1000
eps of the update, room for the accumulation over 3 steps and the deeper
layers' chained rounding), and the whole state to ``atol=1e-6``. Measured:
a relative gap of about 6e-6 (worst tensor) and at most 1 ulp (1.2e-7) in
absolute terms, so the bound has a margin of about 17x. As a check that it
separates right from wrong, 1 process x batch b (half the data per step)
misses it by more than 100x (measured: a relative gap of about 3).

The second test resumes with ``num_workers=2`` (random flips in the dataloader
workers): 2 iterations, stop, resume from ``iter_2.pth`` to 4 iterations
gives bit-identical weights and momentum to 4 uninterrupted iterations.
"""
import copy
import os
import os.path as osp

import pytest
import torch
from _reliability_helpers import free_port
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmseg.registry import HOOKS

from mmseg_attnkd.testing import (synthetic_dataset_cfg, tiny_fcn_cfg,
                                  tiny_runtime_cfg)

pytestmark = [pytest.mark.dist, pytest.mark.slow]

STEPS = 3
REL_TOL = 1e-4
ABS_TOL = 1e-6


def _gn(node):
    """Every norm layer -> GroupNorm(1 group): per-sample normalisation."""
    if isinstance(node, dict):
        if node.get('type') in ('BN', 'SyncBN'):
            node.clear()
            node.update(type='GN', num_groups=1, requires_grad=True)
        for value in node.values():
            _gn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _gn(value)


def _cfg(data_root, work_dir, batch_size, max_iters=STEPS, workers=0,
         random_flip=False):
    cfg = dict(custom_imports=dict(imports=['mmseg_attnkd'],
                                   allow_failed_imports=False))
    cfg.update(tiny_runtime_cfg(work_dir, max_iters, val_interval=max_iters,
                                checkpoint_interval=max_iters, lr=0.1))
    cfg.update(synthetic_dataset_cfg(data_root, num_classes=4,
                                     batch_size=batch_size))
    model = copy.deepcopy(tiny_fcn_cfg(4, 4))
    _gn(model)
    cfg['model'] = model
    cfg['randomness'] = dict(seed=0, deterministic=True)
    loader = cfg['train_dataloader']
    loader['sampler'] = dict(type='InfiniteSampler', shuffle=True, seed=0)
    loader['num_workers'] = workers
    loader['persistent_workers'] = workers > 0
    if not random_flip:
        loader['dataset']['pipeline'] = [
            p for p in loader['dataset']['pipeline']
            if p['type'] != 'RandomFlip']
    for key in ('val_dataloader', 'val_cfg', 'val_evaluator',
                'test_dataloader', 'test_cfg', 'test_evaluator'):
        cfg[key] = None
    cfg['default_hooks'].pop('visualization')  # draws in val/test only
    return cfg


def _state(runner) -> dict:
    model = runner.model.module if hasattr(runner.model, 'module') \
        else runner.model
    opt = runner.optim_wrapper.optimizer
    momentum = {f'momentum.{i}': opt.state[p]['momentum_buffer'].clone()
                for i, p in enumerate(opt.param_groups[0]['params'])
                if 'momentum_buffer' in opt.state[p]}
    params = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return dict(params, **momentum)


def _initial(runner) -> dict:
    return {k: v.detach().clone() for k, v in runner.model.state_dict().items()}


def _train_single(cfg) -> tuple:
    runner = Runner.from_cfg(Config(copy.deepcopy(cfg)))
    init = _initial(runner)
    runner.train()
    return init, _state(runner)


def _rank_main(rank, cfg, port, out):
    torch.set_num_threads(1)
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE='2',
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=port)
    runner = Runner.from_cfg(Config(dict(cfg, launcher='pytorch')))
    runner.train()
    torch.save(_state(runner), osp.join(out, f'rank{rank}.pth'))
    torch.distributed.destroy_process_group()


def _train_two_processes(cfg, out) -> dict:
    import torch.multiprocessing as mp
    os.makedirs(out, exist_ok=True)
    # fork: the children reuse this process's imports (a fresh interpreter
    # per rank would spend seconds importing the stack)
    mp.start_processes(_rank_main, args=(cfg, free_port(), out), nprocs=2,
                       join=True, start_method='fork')
    r0 = torch.load(osp.join(out, 'rank0.pth'))
    r1 = torch.load(osp.join(out, 'rank1.pth'))
    for key in r0:
        assert torch.equal(r0[key], r1[key]), f'ranks differ in {key}'
    return r0


def _worst_relative_gap(init, a, b) -> tuple:
    """max over float params of max|da - db| / max|db| (d: change)."""
    worst, where = 0.0, None
    for key, value in b.items():
        if not value.is_floating_point() or key not in init:
            continue
        db = value - init[key]
        da = a[key] - init[key]
        scale = db.abs().max().item()
        if scale == 0:
            continue
        gap = (da - db).abs().max().item() / scale
        if gap > worst:
            worst, where = gap, key
    return worst, where


def test_two_processes_equal_one_process_with_double_batch(
        tmp_path, synthetic_data):
    init, single = _train_single(
        _cfg(synthetic_data, str(tmp_path / 'single'), batch_size=4))
    dist = _train_two_processes(
        _cfg(synthetic_data, str(tmp_path / 'dist'), batch_size=2),
        str(tmp_path / 'out'))
    assert set(dist) == set(single)
    assert any(k.startswith('momentum.') for k in single)
    moved = [k for k in init if init[k].is_floating_point()
             and not torch.equal(init[k], single[k])]
    assert len(moved) > 10  # training changed the weights
    for key in single:
        torch.testing.assert_close(dist[key], single[key], rtol=0,
                                   atol=ABS_TOL, msg=key)
    gap, where = _worst_relative_gap(init, dist, single)
    assert gap <= REL_TOL, f'{where}: relative gap of the update {gap:.2e}'

    # the bound is meaningful: half the data per step (1 x b) misses it
    _, half = _train_single(
        _cfg(synthetic_data, str(tmp_path / 'half'), batch_size=2))
    wrong_gap, _ = _worst_relative_gap(init, half, single)
    assert wrong_gap > 100 * REL_TOL, wrong_gap


@HOOKS.register_module(name='StopAfterIterHookForTest', force=True)
class StopAfterIterHook(Hook):
    """Ends training cleanly after ``at`` iterations (an interruption)."""

    priority = 'LOWEST'  # after the CheckpointHook has saved

    def __init__(self, at: int):
        self.at = at

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 >= self.at:
            runner.train_loop.stop_training = True


def _run(cfg):
    runner = Runner.from_cfg(Config(copy.deepcopy(cfg)))
    runner.train()
    # Stop the persistent loader workers now: left to the garbage collector,
    # each one waits out torch's 5 s join timeout in whichever later test
    # happens to trigger the collection (20 s for this test's runners).
    loader_iter = getattr(runner.train_loop.dataloader_iterator,
                          '_iterator', None)
    if hasattr(loader_iter, '_shutdown_workers'):
        loader_iter._shutdown_workers()
    return runner


@pytest.mark.parametrize('workers', [2])
def test_resume_with_dataloader_workers_is_exact(tmp_path, synthetic_data,
                                                  workers):
    from mmseg_attnkd.utils import load_checkpoint_safely

    def cfg(name):
        c = _cfg(synthetic_data, str(tmp_path / name), batch_size=2,
                 max_iters=4, workers=workers, random_flip=True)
        c['default_hooks']['checkpoint'].update(interval=2)
        return c

    straight = _state(_run(cfg('straight')))
    interrupted = cfg('resumed')
    interrupted['custom_hooks'] = [dict(type='StopAfterIterHookForTest',
                                        at=2)]
    stopped = _run(interrupted)
    assert stopped.iter == 2
    ckpt = osp.join(str(tmp_path / 'resumed'), 'iter_2.pth')
    assert osp.isfile(ckpt)
    assert not osp.exists(osp.join(str(tmp_path / 'resumed'), 'iter_4.pth'))
    resumed_cfg = cfg('resumed')
    resumed_cfg.update(resume=True, load_from=ckpt)
    resumed_runner = _run(resumed_cfg)
    assert resumed_runner.iter == 4
    resumed = _state(resumed_runner)
    assert set(resumed) == set(straight)
    for key in straight:
        assert torch.equal(straight[key], resumed[key]), key
    # and the saved files agree too
    a = load_checkpoint_safely(osp.join(str(tmp_path / 'straight'),
                                        'iter_4.pth'))['state_dict']
    b = load_checkpoint_safely(osp.join(str(tmp_path / 'resumed'),
                                        'iter_4.pth'))['state_dict']
    for key in a:
        assert torch.equal(a[key], b[key]), key
