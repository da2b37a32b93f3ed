# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Configs and runners shared by the reliability tests."""
import copy
import os.path as osp
import subprocess
import sys
from typing import Optional, Sequence

import torch

from mmseg_attnkd.testing import (free_port, synthetic_dataset_cfg,
                                  tiny_deeplabv3plus_cfg, tiny_fcn_cfg,
                                  tiny_runtime_cfg, write_config)

IMPORTS = ['mmseg_attnkd', 'mmseg_attnkd.engine',
           'mmseg_attnkd.testing.fault_injection']


def _runtime(data_root: str, work_dir: str, max_iters: int, ckpt_interval: int,
             distill: bool, batch_size: int = 2) -> dict:
    cfg = dict(custom_imports=dict(imports=list(IMPORTS),
                                   allow_failed_imports=False))
    cfg.update(tiny_runtime_cfg(work_dir, max_iters, val_interval=max_iters,
                                checkpoint_interval=ckpt_interval,
                                distill=distill))
    cfg.update(synthetic_dataset_cfg(data_root, num_classes=4,
                                     batch_size=batch_size))
    cfg['randomness'] = dict(seed=0, deterministic=True)
    cfg['train_dataloader']['sampler'] = dict(
        type='InfiniteSampler', shuffle=True, seed=0)
    cfg['default_hooks']['checkpoint'] = dict(
        type='AtomicCheckpointHook', by_epoch=False, interval=ckpt_interval)
    return cfg


def plain_cfg(data_root: str, work_dir: str, max_iters: int = 3,
              ckpt_interval: int = 1) -> dict:
    """A tiny FCN segmentor (no distillation): fast checkpoint mechanics."""
    cfg = _runtime(data_root, work_dir, max_iters, ckpt_interval, False)
    cfg['model'] = tiny_fcn_cfg(4, 4)
    return cfg


def attnfd_cfg(data_root: str, work_dir: str, max_iters: int = 4,
               ckpt_interval: int = 2, norm: str = 'BN',
               batch_size: int = 2) -> dict:
    """AttnFD: width-16 DeepLabV3+ teacher -> width-8 student."""
    cfg = _runtime(data_root, work_dir, max_iters, ckpt_interval, True,
                   batch_size)
    student = tiny_deeplabv3plus_cfg(8, 4)
    teacher = tiny_deeplabv3plus_cfg(16, 4)
    if norm != 'BN':
        for model in (student, teacher):
            _set_norm(model, norm)
    cfg['model'] = dict(
        _scope_='mmrazor',
        type='SegSingleTeacherDistill',
        architecture=student,
        teacher=teacher,
        teacher_ckpt=None,
        distiller=dict(type='AttnFDDistiller', stages='auto',
                       teacher_attention='random', normalize='channel',
                       loss_weight=2.0))
    return cfg


def axial_cfg(data_root: str, work_dir: str, max_iters: int = 4,
              ckpt_interval: int = 2, batch_size: int = 2) -> dict:
    """Axial self-distillation of a width-8 DeepLabV3+."""
    cfg = _runtime(data_root, work_dir, max_iters, ckpt_interval, False,
                   batch_size)
    cfg['model'] = dict(
        _scope_='mmrazor',
        type='SegSelfDistill',
        architecture=tiny_deeplabv3plus_cfg(8, 4),
        distiller=dict(type='AxialSelfDistiller',
                       axial=dict(channels=8, num_heads=2, span=16)))
    return cfg


def _set_norm(node, norm: str) -> None:
    if isinstance(node, dict):
        if node.get('type') == 'BN':
            node['type'] = norm
        for v in node.values():
            _set_norm(v, norm)
    elif isinstance(node, (list, tuple)):
        for v in node:
            _set_norm(v, norm)


def dump(cfg: dict, path: str) -> str:
    return write_config(copy.deepcopy(cfg), path)


def run_train(args: Sequence[str], env: dict, cwd: str,
              expect_rc: Optional[int] = 0, timeout: int = 300):
    """Run ``tools/train.py``; return (returncode, combined log)."""
    out = subprocess.run([sys.executable, 'tools/train.py'] + list(args),
                         env=env, cwd=cwd, capture_output=True, text=True,
                         timeout=timeout)
    log = out.stdout + out.stderr
    if expect_rc is not None:
        assert out.returncode == expect_rc, log[-4000:]
    return out.returncode, log


def start_train(args: Sequence[str], env: dict, cwd: str,
                log_path: str) -> subprocess.Popen:
    """Start ``tools/train.py`` in the background, logging to ``log_path``
    (a file, so a full pipe never stalls it); see :func:`wait_train`."""
    with open(log_path, 'w') as log:
        return subprocess.Popen([sys.executable, 'tools/train.py'] +
                                list(args), env=env, cwd=cwd, stdout=log,
                                stderr=subprocess.STDOUT)


def wait_train(proc: subprocess.Popen, log_path: str, timeout: int = 300,
               expect_rc: Optional[int] = 0):
    """Wait for a :func:`start_train` run; return (returncode, log)."""
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    with open(log_path) as f:
        log = f.read()
    if expect_rc is not None:
        assert proc.returncode == expect_rc, log[-4000:]
    return proc.returncode, log


def ckpt_path(work_dir: str, it: int) -> str:
    return osp.join(work_dir, f'iter_{it}.pth')


def kill_and_resume_matches_uninterrupted(make_cfg, tmp_path, data_root,
                                          env, repo_root,
                                          required_prefixes=()):
    """Train 4 iterations straight, and 2+SIGKILL-in-3+resume; compare.

    Returns the two final checkpoints (uninterrupted, resumed).
    """
    from mmseg_attnkd.testing.fault_injection import crash_env
    from mmseg_attnkd.utils import load_checkpoint_safely

    straight_dir = str(tmp_path / 'straight')
    config = dump(make_cfg(data_root, straight_dir),
                  str(tmp_path / 'straight.py'))
    # the uninterrupted run goes on beside the crashing one (mostly
    # interpreter start-up, single-threaded): the test takes a third less
    straight_log = str(tmp_path / 'straight.log')
    straight_proc = start_train([config], env, repo_root, straight_log)

    crash_dir = str(tmp_path / 'crashed')
    cfg = make_cfg(data_root, crash_dir)
    cfg['custom_hooks'] = [dict(type='CrashAfterIterHook')]
    config = dump(cfg, str(tmp_path / 'crashed.py'))
    # killed after iteration 3: the iteration-3 update is lost, the
    # checkpoint of iteration 2 is the latest
    rc, log = run_train([config], dict(env, **crash_env(after_iter=3)),
                        repo_root, expect_rc=None)
    assert rc == -9, log[-3000:]
    assert 'Iter(train) [3/4]' in log
    assert not osp.exists(ckpt_path(crash_dir, 4))
    wait_train(straight_proc, straight_log)
    _, log = run_train([config, '--resume'], env, repo_root)
    assert 'resumed epoch: 0, iter: 2' in log
    assert 'Iter(train) [1/4]' not in log

    straight = load_checkpoint_safely(ckpt_path(straight_dir, 4))
    resumed = load_checkpoint_safely(ckpt_path(crash_dir, 4))
    mid = load_checkpoint_safely(ckpt_path(straight_dir, 2))
    a, b = straight['state_dict'], resumed['state_dict']
    assert list(a) == list(b)
    for prefix in required_prefixes:
        assert any(k.startswith(prefix) for k in a), prefix
    for key in a:
        assert torch.equal(a[key], b[key]), f'{key} differs after resume'
    # training did move the weights between the checkpoints, in particular
    # those of the distillation modules
    for prefix in required_prefixes:
        moved = [k for k in a if k.startswith(prefix)
                 and a[k].is_floating_point()
                 and not torch.equal(a[k], mid['state_dict'][k])]
        assert moved, f'no {prefix}* weight changed in iterations 3-4'
    # optimizer state (momentum buffers) is identical too
    sa = straight['optimizer']['state']
    sb = resumed['optimizer']['state']
    assert sa.keys() == sb.keys()
    for k in sa:
        for name, value in sa[k].items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(value, sb[k][name])
    return straight, resumed


_BUFFER_SUFFIXES = ('running_mean', 'running_var', 'num_batches_tracked')


def dist_train_and_compare_ranks(cfg: dict, tmp_path, env, repo_root,
                                 iters=(1, 2)):
    """Run ``tools/dist_train.sh CONFIG 2``; compare rank dumps.

    Returns ``(log, {iter: (rank0_state, rank1_state)})``.
    """
    import subprocess
    dump_dir = str(tmp_path / 'dumps')
    cfg['custom_hooks'] = [dict(type='DumpStateHook', out_dir=dump_dir,
                                iters=list(iters))]
    config = dump(cfg, str(tmp_path / 'dist.py'))
    env = dict(env, PYTHON=sys.executable, PORT=free_port())
    out = subprocess.run(['bash', 'tools/dist_train.sh', config, '2'],
                         env=env, cwd=repo_root, capture_output=True,
                         text=True, timeout=400)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-4000:]
    assert 'Distributed training: True' in log
    assert 'unused parameters' not in log.lower()
    states = {}
    for it in iters:
        r0 = torch.load(osp.join(dump_dir, f'rank0_iter{it}.pth'))
        r1 = torch.load(osp.join(dump_dir, f'rank1_iter{it}.pth'))
        assert list(r0) == list(r1)
        for key in r0:
            if key.endswith(_BUFFER_SUFFIXES):
                continue
            assert torch.equal(r0[key], r1[key]), \
                f'rank 0 and rank 1 differ in {key} after iteration {it}'
        states[it] = (r0, r1)
    # the ranks saw different images (their local BN statistics differ),
    # so equal parameters come from DDP's gradient averaging
    r0, r1 = states[iters[-1]]
    assert any(not torch.equal(r0[k], r1[k]) for k in r0
               if k.startswith('architecture.') and k.endswith('running_mean'))
    return log, states
