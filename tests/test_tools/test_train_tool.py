# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""tools/train.py and tools/dist_train.sh on MMRazor's stock CWD recipe."""
import os.path as osp
import re
import subprocess
import sys

import pytest

from mmseg_attnkd.testing import cwd_distill_cfg, free_port, write_config

from _tools_helpers import load_tool

pytestmark = pytest.mark.slow


def _run_train(args, env, cwd, timeout=300):
    cmd = [sys.executable, 'tools/train.py'] + list(args)
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True,
                         text=True, timeout=timeout)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    return log


@pytest.fixture
def cwd_config(tmp_path, synthetic_data):
    work_dir = str(tmp_path / 'work')
    cfg = cwd_distill_cfg(synthetic_data, work_dir, max_iters=4,
                          val_interval=4, checkpoint_interval=2)
    return write_config(cfg, str(tmp_path / 'cwd.py')), work_dir


def test_train_cwd_distillation_and_resume(cwd_config, subprocess_env,
                                           repo_root):
    config, work_dir = cwd_config
    log = _run_train([config], subprocess_env, repo_root)
    # 4 iterations with the CWD loss and the student task loss
    assert re.search(r'Iter\(train\) \[4/4\].*distill\.loss_cwd', log)
    assert 'student.decode.loss_ce' in log
    # SingleTeacherDistillValLoop validates the student and the teacher
    assert re.search(r'mIoU: [\d.]+.*teacher\.mIoU: [\d.]+', log), \
        log[-2000:]
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
    assert osp.isfile(osp.join(work_dir, 'iter_4.pth'))

    # --resume PATH loads that file (weights-only, with the compat
    # allow-list) although last_checkpoint names iter_4; the bare --resume
    # after a SIGKILL is test_reliability's exact-resume tests, a missing
    # PATH one of test_errors' bad inputs
    log = _run_train([config, '--resume', osp.join(work_dir, 'iter_2.pth')],
                     subprocess_env, repo_root)
    assert 'resumed epoch: 0, iter: 2' in log
    assert 'Iter(train) [3/4]' in log
    assert 'Iter(train) [1/4]' not in log


def test_bf16_teacher_in_channels_last(cwd_config, subprocess_env,
                                       repo_root):
    """``--channels-last`` and ``teacher_precision`` through the tool, with
    the shipped CWD distiller (its loss views the channels-last logits)."""
    from mmengine.config import Config
    config, work_dir = cwd_config
    cfg = Config.fromfile(config)
    shipped = Config.fromfile(osp.join(
        repo_root, 'configs', 'feature_kd', 'cwd_deeplabv3plus-r101-d8_'
        'deeplabv3plus-r18-d8_4xb2-40k_camvid-360x480.py'))
    cfg.model.distiller = shipped.model.distiller
    cfg.model.distiller.probe_input_size = (64, 64)
    cfg.model.type = 'SegSingleTeacherDistill'
    cfg.model.teacher_precision = 'bf16'
    config = write_config(cfg.to_dict(), config[:-3] + '_bf16_cl.py')
    log = _run_train([config, '--channels-last', '--work-dir', work_dir,
                      '--cfg-options', 'train_cfg.max_iters=2'],
                     subprocess_env, repo_root)
    assert 'ChannelsLastHook: model parameters are in channels_last' in log
    assert re.search(r'Iter\(train\) \[2/2\].*distill\.loss_cwd', log)
    import torch
    ckpt = torch.load(osp.join(work_dir, 'iter_2.pth'), map_location='cpu',
                      weights_only=False)
    conv = ckpt['state_dict']['architecture.backbone.stem.0.weight']
    assert conv.dtype == torch.float32  # the student trained in fp32


def test_speed_options_in_the_config(cwd_config, repo_root):
    train = load_tool('train.py')
    build_cfg, parse_args = train.build_cfg, train.parse_args
    config, _ = cwd_config
    cfg = build_cfg(parse_args([config, '--channels-last', '--compile']))
    assert cfg.compile is True
    assert [h['type'] for h in cfg.custom_hooks].count(
        'ChannelsLastHook') == 1
    plain = build_cfg(parse_args([config]))
    assert not plain.get('compile')
    assert 'ChannelsLastHook' not in [
        h['type'] for h in plain.get('custom_hooks', [])]


def test_local_rank_spellings(repo_root):
    parse_args = load_tool('train.py').parse_args
    assert parse_args(['c.py', '--local-rank', '1']).local_rank == 1
    assert parse_args(['c.py', '--local_rank', '3']).local_rank == 3
    parse_test_args = load_tool('test.py').parse_args
    assert parse_test_args(['c.py', 'x.pth',
                            '--local-rank=2']).local_rank == 2


@pytest.mark.dist
def test_dist_train_two_cpu_processes(cwd_config, subprocess_env, repo_root):
    config, work_dir = cwd_config
    env = dict(subprocess_env, PYTHON=sys.executable, PORT=free_port())
    out = subprocess.run(
        ['bash', 'tools/dist_train.sh', config, '2', '--cfg-options',
         'train_cfg.max_iters=2', 'train_cfg.val_interval=2'],
        env=env, cwd=repo_root, capture_output=True, text=True, timeout=300)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert 'Distributed training: True' in log
    assert 'Iter(train) [2/2]' in log
    assert osp.isfile(osp.join(work_dir, 'iter_2.pth'))
