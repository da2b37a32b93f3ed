# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The state of one CamVid protocol execution and how it finds finished runs.

A run is keyed by :func:`run_key` (arm, seed, iterations and method
settings, no paths): a finished run of the committed results JSON with the
same protocol settings is restored instead of trained again
(:func:`committed_runs`); a run folder started under other settings is
refused.
"""
import concurrent.futures as futures
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional

from bench.accuracy import arms, report
from bench.accuracy.config import prepare_data, train_cfg
from bench.lib import common, runs
from bench.lib.teacher import find_teacher, plain_teacher


# ---------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------
class Protocol:
    """State of one protocol execution (paths, teacher, fitted files)."""

    def __init__(self, args):
        self.args = args
        self.proto = args.proto
        self.root = osp.join(args.work_root, args.protocol)
        self.data_root = prepare_data(args)
        self.info = common.machine_info()
        self.teacher: Optional[dict] = None
        self.fitted: Dict[bool, Optional[str]] = {}
        self.results: List[dict] = []
        self.failed: List[str] = []
        self.lock = threading.Lock()
        self.init_lock = threading.Lock()
        self.committed = committed_runs(args)
        self.start = time.time()

    # -- one run --------------------------------------------------------
    def run_arm(self, arm: str, seed: int, attnfd=None, sd=None) -> dict:
        args, proto = self.args, self.proto
        attnfd = attnfd or args.attnfd
        sd = sd or args.sd
        teacher_ckpt = (self.teacher or {}).get('checkpoint')
        if arm == 'teacher':
            model, factor = arms.arm_model('teacher', proto, None, None, {})
            iters = args.teacher_iters
            # cached under the digest of everything that trains it
            name = 'teacher_' + runs.config_digest(
                train_cfg(model, args, self.data_root, seed, iters, False,
                          proto.get('teacher_workers')))
        else:
            init = self.init_path(seed)
            model, factor = arms.arm_model(arm, proto, init, teacher_ckpt,
                                           self.fitted, attnfd, sd)
            iters = args.iters * factor
            name = arm
        work_dir = osp.join(self.root, f'{name}_seed{seed}')
        result_path = osp.join(work_dir, 'result.json')
        info = dict(arm=arm, seed=seed, iters=iters, protocol=args.protocol)
        if arm in ('attnfd', 'attnfd_sd'):
            info['attnfd'] = dict(attnfd)
        if arm in ('sd', 'sd_detach', 'attnfd_sd'):
            # sd_detach records the chosen settings; its arm adds the detach
            info['sd'] = dict(sd)
        if osp.isfile(result_path):
            with open(result_path) as f:
                result = json.load(f)
            runs.check_same_settings(work_dir, result, info)
            return result
        restored = self.restore(info, result_path)
        if restored is not None:
            return restored
        cfg = train_cfg(model, args, self.data_root, seed, iters,
                        arms.has_axial_output(arm),
                        proto.get('teacher_workers') if arm == 'teacher'
                        else None)
        print(f'[train] {arm} seed {seed}: {iters} iters -> {work_dir}',
              flush=True)
        record = runs.train_run(work_dir, cfg, info, args.dry_run)
        if args.dry_run:
            return record
        record['val_final'] = list(record['val'].values())[-1] \
            if record['val'] else None
        if record.get('teacher_output_val'):
            record['teacher_output_val_mIoU'] = list(
                record['teacher_output_val'].values())[-1]
        if arm == 'teacher':
            record.update(plain_teacher(record['checkpoint'], work_dir))
        common.write_json(result_path, record)
        return record

    def restore(self, info: dict, result_path: str) -> Optional[dict]:
        """A finished run of the committed results, if this machine lacks
        it (caches are machine-local; finished runs are never redone).

        A teacher is restored only with its weights: the plain checkpoint
        it recorded, found by SHA-256 under ``--teacher-dir``.
        """
        record = self.committed.get(run_key(info))
        if record is None or self.args.dry_run:
            return None
        record = dict(record, restored_from=osp.relpath(
            committed_path(self.args), common.REPO_ROOT))
        if info['arm'] == 'teacher':
            found = find_teacher(self.args.teacher_dir,
                                 record.get('plain_sha256'))
            if found is None:
                return None
            record['checkpoint'] = found
        print(f'[restored] {info["arm"]} seed {info["seed"]} from the '
              'committed results', flush=True)
        common.write_json(result_path, record)
        return record

    def init_path(self, seed: int) -> Optional[str]:
        """The seed's saved initial student (built once, under a lock: the
        build seeds the global RNG, which parallel runs must not share)."""
        if self.args.dry_run:
            return None
        with self.init_lock:
            return runs.paired_init_path(
                osp.join(self.root, 'init'), arms.student_cfg(self.proto),
                seed)

    def fit_attention(self, spatial_norm: bool) -> str:
        """The fitted teacher-attention file (fitted once, then cached)."""
        if spatial_norm in self.fitted:
            return self.fitted[spatial_norm]
        args = self.args
        model = arms.fit_model(self.proto, self.teacher['checkpoint'],
                               spatial_norm)
        key = fit_key(model, args.fit_iters, self.teacher)
        work_dir = osp.join(self.root, f'fit_attention_{key}')
        out = osp.join(work_dir, 'teacher_attention.pth')
        if not osp.isfile(out) and not args.dry_run:
            from mmengine.config import Config
            cfg = train_cfg(model, args, self.data_root, 0, args.fit_iters)
            os.makedirs(work_dir, exist_ok=True)
            cfg_path = osp.join(work_dir, 'attnfd_config.py')
            Config(cfg).dump(cfg_path)
            print(f'[fit] teacher attention (spatial_norm={spatial_norm}) '
                  f'-> {out}', flush=True)
            runs.run_logged([
                sys.executable,
                osp.join(common.REPO_ROOT, 'tools',
                         'fit_teacher_attention.py'), cfg_path,
                '--iters', str(args.fit_iters), '--work-dir', work_dir,
                '--out', out
            ], osp.join(work_dir, 'fit.log'))
        self.fitted[spatial_norm] = out
        return out

    # -- many runs ------------------------------------------------------
    def past_deadline(self) -> bool:
        limit = self.args.deadline_min
        return limit is not None and time.time() - self.start > limit * 60

    def run_many(self, jobs: List[tuple]) -> List[dict]:
        """Run ``(arm, seed, attnfd, sd)`` jobs, ``--jobs`` at a time."""
        done = []

        def one(job):
            arm, seed, attnfd, sd = job
            if self.past_deadline():
                with self.lock:
                    self.failed.append(f'{arm} seed {seed} (not started: '
                                       'deadline)')
                return None
            try:
                result = self.run_arm(arm, seed, attnfd, sd)
            except (runs.RunFailed, subprocess.CalledProcessError,
                    RuntimeError) as err:
                print(f'[failed] {arm} seed {seed}: {err}', flush=True)
                with self.lock:
                    self.failed.append(f'{arm} seed {seed}')
                return None
            with self.lock:
                self.results = [
                    r for r in self.results
                    if (r['arm'], r['seed']) != (arm, seed)
                ] + [result]
                done.append(result)
                self.save(final=False)
            return result

        workers = max(1, self.args.jobs)
        if workers == 1:
            for job in jobs:
                one(job)
        else:
            with futures.ThreadPoolExecutor(workers) as pool:
                list(pool.map(one, jobs))
        return done

    def save(self, final: bool) -> None:
        if self.args.dry_run:
            return
        report.save(self, final)


def committed_path(args) -> str:
    return osp.join(args.out_dir, f'accuracy_{args.protocol}.json')


def run_key(info: dict) -> str:
    """Path-free identity of a run: arm, seed, iterations and settings."""
    return json.dumps([info['arm'], info['seed'], info['iters'],
                       info.get('attnfd'), info.get('sd')], sort_keys=True)


def committed_runs(args) -> Dict[str, dict]:
    """Finished runs of the committed results JSON of this protocol, by
    :func:`run_key`; empty when the protocol's settings have changed."""
    path = committed_path(args)
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        data = json.load(f)
    meta = data.get('meta', {})
    same = json.dumps(meta.get('proto'), sort_keys=True) == json.dumps(
        json.loads(json.dumps(args.proto)), sort_keys=True)
    if not same or meta.get('teacher_iters') != args.teacher_iters:
        return {}
    return {run_key(r): r for r in data.get('runs', [])
            if r.get('test_mIoU') is not None}


def fit_key(model: dict, iters: int, teacher: dict) -> str:
    """Cache key of a teacher-attention fit.

    Keyed by the teacher's weights (``plain_sha256``), not by the path its
    config names: the same teacher restored at another path (relative vs
    absolute) reuses the fit instead of fitting again.
    """
    digest = teacher.get('plain_sha256')
    if digest:
        model = dict(model, teacher_ckpt=None)
    return runs.config_digest(dict(model=model, iters=iters, teacher=digest))


def needs_fit(arm_list: List[str], settings: List[Dict]) -> List[bool]:
    """CBAM variants (spatial_norm) whose fitted attention is needed."""
    out = set()
    for s in settings:
        if s.get('teacher_attention') == 'fitted':
            out.add(bool(s.get('spatial_norm', False)))
    return sorted(out)
