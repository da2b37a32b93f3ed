# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Resumable training runs for the accuracy protocols.

A run is one ``tools/train.py`` process on a config dumped into its work
dir, followed by ``tools/test.py`` evaluations of the final checkpoint. A
finished run leaves ``result.json`` and is never redone; an interrupted one
resumes from its last checkpoint. Each result records the git commit, the
exact commands, the config digest, the load average at the start and the
wall and training seconds, so any number in a table can be traced back.
"""
import contextlib
import copy
import glob
import hashlib
import json
import math
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Iterator, List, Optional

from bench.lib import common

__all__ = [
    'git_commit', 'config_digest', 'scalar_records', 'read_scalars',
    'last_checkpoint', 'train_run', 'paired_init_path', 'driver_lock',
    'RunFailed', 'TEACHER_KEY'
]


#: The script that trains and tests one run in its own process.
TRAIN_TEST = osp.join(osp.dirname(osp.abspath(__file__)), 'train_test.py')

#: Metric key of the axial teacher output (SegSelfDistill val/test loops).
TEACHER_KEY = 'teacher_output.mIoU'


class RunFailed(RuntimeError):
    """A training or test subprocess failed (the log path is in the text)."""


git_commit = common.git_commit


def config_digest(cfg, *masked: str) -> str:
    """First 12 hex digits of the SHA-256 of a config's canonical JSON.

    ``masked`` paths (e.g. the data and work dirs) are replaced by
    placeholders first, so the digest names the settings, not where the
    run lives.
    """
    text = json.dumps(cfg, sort_keys=True, default=str)
    for i, path in enumerate(masked):
        text = text.replace(path, f'<path{i}>')
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def scalar_records(work_dir: str) -> Iterator[dict]:
    """MMEngine's logged scalars of a run, one dict per logged step, in the
    order of its invocations (a resumed run adds a timestamped folder)."""
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for line in f:
                yield json.loads(line)


def read_scalars(work_dir: str) -> dict:
    """Validation curve and training time from MMEngine's scalar logs.

    Returns:
        dict: ``val`` ``{iter: mIoU}``, ``train_seconds`` ``{iter: seconds
        of training up to that iteration}`` (logged iteration times times
        the logging interval, validation excluded) and ``sec_per_iter``
        (median of the logged times), ``loss_last``/``loss_min`` (the
        logged total loss) and ``diverged`` (the last loss not finite or
        above 10x the smallest); for axial SD also ``teacher_output_val``
        ``{iter: mIoU}`` of the axial teacher output.
    """
    val, teacher_val, times, losses = {}, {}, [], []
    for rec in scalar_records(work_dir):
        if 'mIoU' in rec:
            val[int(rec['step'])] = float(rec['mIoU'])
            if TEACHER_KEY in rec:
                teacher_val[int(rec['step'])] = float(rec[TEACHER_KEY])
        elif 'time' in rec and 'loss' in rec:
            times.append((int(rec['iter']), float(rec['time'])))
            losses.append((int(rec['iter']), float(rec['loss'])))
    # a resumed run re-logs the steps after its last checkpoint: the later
    # invocation's values win (dict keeps the last)
    times = sorted(dict(times).items())
    cum, prev, total = {}, 0, 0.0
    for it, sec in times:
        total += sec * (it - prev)
        prev = it
        cum[it] = total
    seconds = {}
    for it in val:
        done = [t for t in cum if t <= it]
        seconds[it] = cum[max(done)] if done else 0.0
    out = dict(
        val={str(k): val[k] for k in sorted(val)},
        train_seconds={str(k): round(seconds[k], 1) for k in sorted(val)},
        sec_per_iter=statistics.median([t for _, t in times])
        if times else None)
    losses = [v for _, v in sorted(dict(losses).items())]
    if losses:
        finite = [v for v in losses if math.isfinite(v)]
        out.update(loss_last=losses[-1] if math.isfinite(losses[-1])
                   else None,
                   loss_min=min(finite) if finite else None,
                   diverged=not math.isfinite(losses[-1]) or (
                       bool(finite) and losses[-1] > 10 * min(finite)))
    if teacher_val:
        out['teacher_output_val'] = {
            str(k): teacher_val[k]
            for k in sorted(teacher_val)
        }
    return out


def last_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint named in ``work_dir/last_checkpoint``, if it exists."""
    path = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(path):
        with open(path) as f:
            ckpt = f.read().strip()
        if not osp.isabs(ckpt):
            ckpt = osp.join(common.REPO_ROOT, ckpt)
        return ckpt if osp.isfile(ckpt) else None
    return None


@contextlib.contextmanager
def driver_lock(folder: str, tool: str):
    """Hold ``folder`` (a protocol's work root) for this driver process.

    Two drivers on one work root would train the same runs into the same
    folders and overwrite each other's checkpoints; the second stops with
    a one-line error. The lock (``flock``) ends with the process, so a
    killed driver never leaves a stale lock behind.
    """
    import fcntl
    os.makedirs(folder, exist_ok=True)
    handle = open(osp.join(folder, '.driver.lock'), 'a+')
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or 'another process'
        handle.close()
        raise SystemExit(f'{folder} is in use by {holder}; wait for it to '
                         'finish (it resumes where it stopped) or pass '
                         'another --work-root.') from None
    handle.truncate(0)
    handle.write(f'{tool} (pid {os.getpid()})')
    handle.flush()
    try:
        yield
    finally:
        handle.close()


def run_logged(cmd: List[str], log_path: str) -> float:
    """Run ``cmd`` with its output appended to ``log_path``; seconds taken.

    Raises:
        RunFailed: Non-zero exit (the message names the log).
    """
    start = time.time()
    with open(log_path, 'a') as log:
        log.write(f'\n$ {" ".join(cmd)}\n')
        log.flush()
        proc = subprocess.run(cmd, cwd=common.REPO_ROOT, stdout=log,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RunFailed(f'{" ".join(cmd[1:3])} failed (exit '
                        f'{proc.returncode}); see {log_path}')
    return time.time() - start


#: Fields of a run's ``info`` that must not change between its start, its
#: resumptions and the reuse of its finished result.
SETTING_KEYS = ('arm', 'seed', 'iters', 'protocol', 'attnfd', 'sd')


def check_same_settings(work_dir: str, recorded: dict, info: dict) -> None:
    """Refuse a run folder started under other settings (raise
    :class:`RunFailed` naming the first difference)."""
    for key in SETTING_KEYS:
        if key in recorded and recorded.get(key) != info.get(key):
            raise RunFailed(
                f'{work_dir} was started with {key}={recorded.get(key)!r}, '
                f'not {info.get(key)!r}; use another --work-root for new '
                'settings, or delete that folder to run it again.')


def train_run(work_dir: str, cfg: dict, info: dict,
              dry_run: bool = False) -> dict:
    """Train ``cfg`` in ``work_dir`` (resuming), test the final model.

    Args:
        work_dir: The run's folder (``result.json`` marks it finished).
        cfg: Complete MMEngine config dict (``work_dir`` is set here).
        info: Fields copied into the record (arm, seed, iters, ...).
        dry_run: Dump and re-load the config only.

    Returns:
        dict: ``info`` plus ``config``, ``config_sha``, ``checkpoint``,
        ``test_mIoU`` (final model, test loader), ``commit``, ``command``,
        ``loadavg_start``, ``wall_s`` and the fields of
        :func:`read_scalars`.
    """
    from mmengine.config import Config
    os.makedirs(work_dir, exist_ok=True)
    cfg = copy.deepcopy(cfg)
    cfg['work_dir'] = work_dir
    # the settings a run started with; a resumption must use the same
    settings_path = osp.join(work_dir, 'settings.json')
    if osp.isfile(settings_path):
        with open(settings_path) as f:
            check_same_settings(work_dir, json.load(f), info)
    elif not dry_run:
        common.write_json(settings_path,
                          {k: info[k] for k in SETTING_KEYS if k in info})
    cfg_path = osp.join(work_dir, 'config.py')
    Config(cfg).dump(cfg_path)
    record = dict(info, config=cfg_path, config_sha=config_digest(cfg))
    if dry_run:
        Config.fromfile(cfg_path)
        return record
    cmd = [sys.executable, TRAIN_TEST, cfg_path, '--work-dir', work_dir]
    if last_checkpoint(work_dir):
        cmd.append('--resume')
    load = os.getloadavg()[0]
    wall = run_logged(cmd, osp.join(work_dir, 'train.log'))
    ckpt = last_checkpoint(work_dir)
    if ckpt is None:
        raise RunFailed(f'{work_dir} has no last checkpoint after training')
    with open(osp.join(work_dir, 'test_metrics.json')) as f:
        metrics = json.load(f)
    record['test_mIoU'] = float(metrics['mIoU'])
    if TEACHER_KEY in metrics:  # axial SD: the axial teacher output
        record['teacher_output_test_mIoU'] = float(metrics[TEACHER_KEY])
    record.update(
        checkpoint=ckpt, commit=git_commit(),
        command=' '.join(osp.relpath(c, common.REPO_ROOT)
                         if osp.isabs(c) else c for c in cmd[1:]),
        loadavg_start=round(load, 2), wall_s=round(wall, 1))
    record.update(read_scalars(work_dir))
    return record


def paired_init_path(root: str, student: dict, seed: int) -> str:
    """Initial student weights for ``seed``, saved once and shared by arms.

    Every arm of seed ``k`` loads this file through the student's
    ``init_cfg`` (MMEngine applies ``Pretrained`` after its children's own
    initialisation), so teacher, connectors and axial blocks built before
    the student cannot shift its random draws.
    """
    import torch
    key = config_digest(student)
    path = osp.join(root, f'student_{key}_seed{seed}.pth')
    if osp.isfile(path):
        return path
    model = common.build_model(
        dict(student, init_cfg=None), seed=seed)
    os.makedirs(root, exist_ok=True)
    tmp = path + '.tmp'
    torch.save(dict(state_dict=model.state_dict()), tmp)
    os.replace(tmp, path)
    return path
