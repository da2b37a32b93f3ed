# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Which runs of the ssTEM study are finished, restored or pending, and the
pending ones run ``--jobs`` at a time (each ``run.py --worker`` process)
until the deadline.

A finished run is recognised by its settings digest (:func:`run_config_sha`
of :mod:`bench.sstem.config`): its ``result.json`` here, or the record of
the committed results JSON (machine-local caches, finished runs are never
redone).
"""
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

from bench.lib import common, runs
from bench.sstem.arms import TEACHER_KEY
from bench.sstem.config import (other_settings, run_config_sha, run_dir,
                                settings_sha, train_cfg)
from bench.sstem.paired import make_initial_weights
from bench.sstem.worker import worker


#: The study's command; each run's worker is this script with --worker.
RUN_SCRIPT = osp.join(osp.dirname(osp.abspath(__file__)), 'run.py')


#: Code whose commit a run records.
CODE_PATHS = ('bench', 'mmseg_attnkd', 'configs')


# ---------------------------------------------------------------------------
# scheduling
# ---------------------------------------------------------------------------
def prepare_run(arch: str, arm: str, seed: int, args, data_dir: str) -> str:
    """Write ``config.py`` and ``spec.json`` of a run; return its dir."""
    from mmengine.config import Config
    work_dir = run_dir(args, arch, arm, seed)
    os.makedirs(work_dir, exist_ok=True)
    cfg = train_cfg(arch, arm, seed, args, data_dir, work_dir)
    spec = dict(arch=arch, arm=arm, seed=seed, iters=args.iters,
                protocol=args.protocol, select=args.select,
                threads=args.threads, jobs=args.jobs,
                config_sha=settings_sha(cfg, args, work_dir, data_dir),
                init=make_initial_weights(arch, seed, args))
    spec_path = osp.join(work_dir, 'spec.json')
    spec.update(commits=[], commands=[])
    if osp.isfile(spec_path):
        with open(spec_path) as f:
            old = json.load(f)
        if old.get('config_sha') != spec['config_sha']:
            raise SystemExit(other_settings(work_dir))
        spec.update(commits=old.get('commits', []),
                    commands=old.get('commands', []))
    # the worker moves these into commits/commands when it starts training,
    # so a dry run or a run stopped at the deadline records nothing
    spec['pending'] = dict(commit=common.git_commit(CODE_PATHS),
                           command=getattr(args, 'command', None))
    Config(cfg).dump(osp.join(work_dir, 'config.py'))
    common.write_text(spec_path, json.dumps(spec, indent=1))
    return work_dir


def _spec_sha(work_dir: str) -> str:
    """The settings digest a run was (re)started with (its spec.json)."""
    with open(osp.join(work_dir, 'spec.json')) as f:
        return json.load(f)['config_sha']


def load_result(work_dir: str, sha: str) -> Optional[dict]:
    """A finished run's result; refuses one made under other settings."""
    path = osp.join(work_dir, 'result.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        result = json.load(f)
    if result.get('config_sha') != sha:
        raise SystemExit(other_settings(work_dir))
    return result


def committed_runs(args) -> Dict[tuple, dict]:
    """Finished runs of the committed results, by (arch, arm, seed, settings
    digest): caches are machine-local, finished runs are never redone."""
    path = osp.join(args.out_dir, f'sstem_study_{args.protocol}.json')
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        data = json.load(f)
    return {(r['arch'], r['arm'], r['seed'], r['config_sha']): r
            for r in data.get('runs', []) if r.get('config_sha')}


def _restore(record: Optional[dict], work_dir: str,
             args) -> Optional[dict]:
    """Write a committed run's result into its (new) run dir."""
    if record is None:
        return None
    record = dict(record, restored_from=osp.relpath(osp.join(
        args.out_dir, f'sstem_study_{args.protocol}.json'), common.REPO_ROOT))
    os.makedirs(work_dir, exist_ok=True)
    common.write_json(osp.join(work_dir, 'result.json'), record)
    print(f'[restored] {record["arch"]} {record["arm"]} seed '
          f'{record["seed"]} from the committed results', flush=True)
    return record


def run_all(args, data_dir: str) -> Tuple[List[dict], List[str], List[str]]:
    """Run every pending (arch, arm, seed), ``--jobs`` at a time.

    Returns:
        tuple: finished results, failed runs, runs not started or stopped
        at the deadline.
    """
    runs = [(arch, arm, seed) for seed in args.seeds for arch in args.archs
            for arm in args.arms]
    results, pending = [], []
    committed = {} if args.dry_run else committed_runs(args)
    for arch, arm, seed in runs:
        work_dir = run_dir(args, arch, arm, seed)
        sha = run_config_sha(arch, arm, seed, args, data_dir)
        done = load_result(work_dir, sha) or _restore(
            committed.get((arch, arm, seed, sha)), work_dir, args)
        if done is not None:
            print(f'[skip] {arch} {arm} seed {seed}: finished', flush=True)
            results.append(done)
        else:
            pending.append(prepare_run(arch, arm, seed, args, data_dir))
    if args.dry_run:
        for work_dir in pending:
            from mmengine.config import Config
            Config.fromfile(osp.join(work_dir, 'config.py'))
            print(f'[dry-run] {common.rel(work_dir)}', flush=True)
        return results, [], [osp.basename(p) for p in pending]
    deadline = args.start + 60 * args.deadline_min \
        if args.deadline_min else None
    hard = deadline + 60 * args.grace_min if deadline else None
    failed, stopped = [], []
    if args.jobs == 0:  # in this process, one after the other (debugging)
        for work_dir in pending:
            if args.deadline_min and time.time() >= deadline:
                stopped.append(osp.basename(work_dir))
                continue
            try:
                results.append(worker(work_dir))
            except Exception as err:  # noqa: BLE001  (reported, rerun)
                print(f'[failed] {osp.basename(work_dir)}: {err!r}',
                      flush=True)
                failed.append(osp.basename(work_dir))
        return results, failed, stopped
    running: Dict[str, subprocess.Popen] = {}
    env = common.rss_env()
    env.pop('MALLOC_MMAP_THRESHOLD_', None)
    env['OMP_NUM_THREADS'] = str(args.threads)
    try:
        _schedule(args, pending, running, results, failed, stopped, env,
                  deadline, hard)
    finally:
        for proc in running.values():  # interrupted: leave no orphan behind
            proc.terminate()
            proc.wait()
    return results, failed, stopped


def _schedule(args, pending, running, results, failed, stopped, env,
              deadline, hard) -> None:
    while pending or running:
        now = time.time()
        while pending and len(running) < args.jobs and (
                deadline is None or now < deadline):
            work_dir = pending.pop(0)
            log = open(osp.join(work_dir, 'run.log'), 'a')
            print(f'[start] {osp.basename(work_dir)}', flush=True)
            running[work_dir] = subprocess.Popen(
                [sys.executable, RUN_SCRIPT, '--worker', work_dir],
                cwd=common.REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                env=env)
            log.close()
        if deadline is not None and now >= deadline and pending:
            stopped += [osp.basename(p) for p in pending]
            print(f'[deadline] not starting {len(pending)} run(s)',
                  flush=True)
            pending.clear()
        for work_dir, proc in list(running.items()):
            if proc.poll() is None:
                if hard is not None and now >= hard:
                    proc.terminate()  # its checkpoints stay: resumable
                    proc.wait()
                    stopped.append(osp.basename(work_dir))
                    print(f'[stopped] {osp.basename(work_dir)} (deadline; '
                          'resumable)', flush=True)
                    del running[work_dir]
                continue
            del running[work_dir]
            result = load_result(work_dir, _spec_sha(work_dir))
            if proc.returncode != 0 or result is None:
                failed.append(osp.basename(work_dir))
                print(f'[failed] {osp.basename(work_dir)}: see '
                      f'{common.rel(osp.join(work_dir, "run.log"))}',
                      flush=True)
            else:
                results.append(result)
                print(f'[done] {osp.basename(work_dir)}: test mIoU '
                      f'{result["test"].get("mIoU", float("nan")):.2f}'
                      + (f', teacher output '
                         f'{result["test"][TEACHER_KEY]:.2f}'
                         if TEACHER_KEY in result['test'] else ''),
                      flush=True)
        if running:
            time.sleep(1.0)
