# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""A SIGKILL in the middle of writing a checkpoint never breaks --resume."""
import glob
import os
import os.path as osp

import pytest
import torch

from mmseg_attnkd.testing.fault_injection import crash_env
from mmseg_attnkd.utils import load_checkpoint_safely

from _reliability_helpers import ckpt_path, dump, plain_cfg, run_train

pytestmark = pytest.mark.slow


def _killed_mid_save(tmp_path, synthetic_data, env, repo_root, hook_type):
    """3 iterations, checkpoint every iteration, keep 1; die in save 3."""
    work_dir = str(tmp_path / hook_type)
    cfg = plain_cfg(synthetic_data, work_dir, max_iters=3, ckpt_interval=1)
    cfg['default_hooks']['checkpoint'] = dict(
        type=hook_type, by_epoch=False, interval=1, max_keep_ckpts=1)
    cfg['custom_hooks'] = [dict(type='CrashDuringCheckpointWriteHook')]
    config = dump(cfg, str(tmp_path / f'{hook_type}.py'))
    rc, log = run_train([config], dict(env, **crash_env(during_save=3)),
                        repo_root, expect_rc=None)
    assert rc == -9, log[-3000:]  # really SIGKILLed, mid-write
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        pointer = f.read().strip()
    return config, work_dir, pointer


def test_atomic_hook_survives_sigkill_mid_write(tmp_path, synthetic_data,
                                                subprocess_env, repo_root):
    config, work_dir, pointer = _killed_mid_save(
        tmp_path, synthetic_data, subprocess_env, repo_root,
        'AtomicCheckpointHook')
    # last_checkpoint names the iteration-2 file, which is complete
    assert pointer == ckpt_path(work_dir, 2)
    ckpt = load_checkpoint_safely(pointer)
    assert ckpt['meta']['iter'] == 2
    assert all(torch.isfinite(v).all() for v in ckpt['state_dict'].values()
               if v.is_floating_point())
    # no truncated file under a checkpoint name; the half-written bytes
    # are only in the hidden partial file
    assert sorted(glob.glob(osp.join(work_dir, '*.pth'))) == [pointer]
    partial = osp.join(work_dir, '.iter_3.pth.partial')
    assert osp.isfile(partial)
    with pytest.raises(ValueError, match='truncated'):
        load_checkpoint_safely(partial)

    # --resume continues from iteration 2, cleans the partial file, and
    # the rotation (max_keep_ckpts=1) keeps exactly the newest checkpoint
    _, log = run_train([config, '--resume'], subprocess_env, repo_root)
    assert 'resumed epoch: 0, iter: 2' in log
    assert 'Removed .iter_3.pth.partial' in log
    assert not osp.exists(partial)
    assert sorted(glob.glob(osp.join(work_dir, '*.pth'))) == [
        ckpt_path(work_dir, 3)]
    assert load_checkpoint_safely(ckpt_path(work_dir, 3))['meta']['iter'] \
        == 3


def test_stock_checkpoint_hook_loses_latest_on_same_kill(
        tmp_path, synthetic_data, subprocess_env, repo_root):
    """Why the hook exists: MMEngine deletes the kept checkpoint first."""
    _, work_dir, pointer = _killed_mid_save(tmp_path, synthetic_data,
                                            subprocess_env, repo_root,
                                            'CheckpointHook')
    assert pointer == ckpt_path(work_dir, 2)
    assert not osp.exists(pointer)  # deleted before iter_3 was written
    truncated = ckpt_path(work_dir, 3)
    assert osp.isfile(truncated)  # the newest *.pth is half a file
    with pytest.raises(ValueError, match='truncated'):
        load_checkpoint_safely(truncated)


def test_best_checkpoint_is_never_truncated(tmp_path, synthetic_data,
                                            subprocess_env, repo_root):
    """save_best: a kill while writing best_*.pth leaves no half file."""
    work_dir = str(tmp_path / 'best')
    cfg = plain_cfg(synthetic_data, work_dir, max_iters=2, ckpt_interval=1)
    cfg['train_cfg']['val_interval'] = 1
    cfg['default_hooks']['checkpoint'] = dict(
        type='AtomicCheckpointHook', by_epoch=False, interval=1,
        save_best='mIoU', rule='greater')
    cfg['custom_hooks'] = [dict(type='CrashDuringCheckpointWriteHook')]
    config = dump(cfg, str(tmp_path / 'best.py'))
    # save 1 = iter_1.pth, save 2 = best_mIoU_iter_1.pth (after validation)
    rc, log = run_train([config], dict(subprocess_env,
                                       **crash_env(during_save=2)),
                        repo_root, expect_rc=None)
    assert rc == -9, log[-3000:]
    assert not glob.glob(osp.join(work_dir, 'best_*.pth'))
    assert osp.isfile(osp.join(work_dir, '.best_mIoU_iter_1.pth.partial'))
    for path in glob.glob(osp.join(work_dir, '*.pth')):
        load_checkpoint_safely(path)  # every visible checkpoint is whole
    # resumed, the run writes a complete best checkpoint
    run_train([config, '--resume'], subprocess_env, repo_root)
    best = glob.glob(osp.join(work_dir, 'best_mIoU_iter_*.pth'))
    assert len(best) == 1
    assert 'state_dict' in load_checkpoint_safely(best[0])


def test_atomic_write_text_replaces_whole_file(tmp_path):
    from mmseg_attnkd.utils.checkpoint import atomic_write_text
    path = str(tmp_path / 'last_checkpoint')
    atomic_write_text(path, 'a' * 100)
    atomic_write_text(path, 'b')
    assert open(path).read() == 'b'
    assert os.listdir(tmp_path) == ['last_checkpoint']


@pytest.mark.parametrize('pointer', ['', 'deleted'])
def test_broken_last_checkpoint_is_pointed_at_newest_file(tmp_path, pointer):
    """A kill inside MMEngine's in-place rewrite of last_checkpoint (empty)
    or a pointer to a deleted file is repaired before --resume reads it."""
    import logging
    from types import SimpleNamespace

    from mmseg_attnkd.engine import AtomicCheckpointHook
    for step in (2, 10):
        (tmp_path / f'iter_{step}.pth').write_bytes(b'x')
    last = tmp_path / 'last_checkpoint'
    last.write_text(str(tmp_path / 'iter_12.pth') if pointer else '')
    runner = SimpleNamespace(work_dir=str(tmp_path),
                             logger=logging.getLogger('atomic-test'))
    AtomicCheckpointHook(interval=1, by_epoch=False).before_run(runner)
    assert last.read_text() == str(tmp_path / 'iter_10.pth')
