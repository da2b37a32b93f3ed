# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The CamVid CPU study v2: every arm a config, paired seeds, resumable.

A scheduler only; every model comes from ``configs/camvid240/`` (plus the
v2 overrides of ``bench/camvid/arms.py``):

1. the data: CamVid SegNet converted once at half resolution (240x180);
2. the teacher: ``configs/camvid240``'s teacher config, seed 0, and its
   weights alone (``teacher_plain.pth`` with its SHA-256);
3. the fitted teacher attention of the AttnFD arms
   (``tools/fit_teacher_attention.py``, once);
4. every ``arm x seed`` run: the arm's config with the data root, the
   seed, the paired initial student weights of the seed (every arm of seed
   k starts from the same file), the teacher and the fitted file, trained
   and tested by ``bench/lib/runs.py`` (a finished run is never redone; an
   interrupted one resumes from its checkpoint).

After every run the records go to ``<out-dir>/camvid_v2_cpu.json``: the
arm, seed, commit, CPU model, SHA-256 of the initial student weights,
``loss_last``/``diverged``, the val curve and the final test mIoU (and the
axial teacher output's). Choose on val, score test once per run.

Example::

    python bench/camvid/run.py --data-root ../shared/data/camvid_segnet \\
        --arms baseline baseline_2x attnfd attnfd_cwd --seeds 0 1
    python bench/camvid/run.py ... --iters-scale 0.01 --out-dir \\
        work_dirs/camvid_smoke   # a smoke of the whole chain (minutes)
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench.lib import common, runs  # noqa: E402
from bench.camvid.arms import ARMS, V2_ARMS, arm_config  # noqa: E402

NAME = 'camvid_v2_cpu'
SCALE = 0.5  # 480x360 -> 240x180
FIT_ITERS = 500


def prepare_data(data_root: str, out: str) -> str:
    """CamVid converted once (train, val, test) at :data:`SCALE`."""
    if osp.isfile(osp.join(out, '.complete')):
        return out
    if not osp.isdir(osp.join(data_root, 'train')):
        raise SystemExit(f'--data-root {data_root} has no train/ folder; '
                         'pass the SegNet CamVid folder (train/, val/, '
                         'test/ and their *annot/ folders).')
    os.makedirs(out, exist_ok=True)
    runs.run_logged([
        sys.executable, osp.join(REPO, 'tools', 'dataset_converters',
                                 'camvid.py'), '--data-root', data_root,
        '--out-dir', out, '--splits', 'train', 'val', 'test', '--scale',
        str(SCALE)], osp.join(out, 'convert.log'))
    common.write_text(osp.join(out, '.complete'), 'ok')
    return out


def run_cfg(arm: str, data_root: str, seed: int, scale: float,
            init: Optional[str] = None, teacher: Optional[str] = None,
            fitted: Optional[str] = None) -> dict:
    """The complete config of one run of ``arm``, as a dict."""
    cfg = arm_config(REPO, arm)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.data_root = data_root
    cfg.randomness = dict(seed=seed)
    if scale != 1:  # smoke runs: the same chain on a shorter schedule
        iters = max(int(cfg.train_cfg.max_iters * scale), 2)
        cfg.train_cfg.max_iters = iters
        cfg.train_cfg.val_interval = iters
        cfg.default_hooks.checkpoint.interval = iters
        for sched in cfg.param_scheduler:
            sched.begin = min(sched.begin, iters - 1)
            sched.end = min(sched.end, iters)
    model = cfg.model
    student = model.get('architecture', model)
    if init:
        student.init_cfg = dict(type='Pretrained', checkpoint=init)
    if 'teacher_ckpt' in model:
        model.teacher_ckpt = teacher
    if fitted is not None:
        model.distiller.teacher_attention_ckpt = fitted
    return cfg.to_dict()


class Study:
    """Paths and cached products (data, teacher, fitted file) of a study."""

    def __init__(self, args):
        self.args = args
        self.root = args.work_root
        self.data = prepare_data(args.data_root,
                                 osp.join(self.root, 'camvid240'))
        self.out = osp.join(args.out_dir, NAME + '.json')
        self.records = self._load()
        self._teacher: Optional[dict] = None

    def _load(self) -> Dict[str, dict]:
        if not osp.isfile(self.out):
            return {}
        with open(self.out) as f:
            return {r['key']: r for r in json.load(f)['runs']}

    def save(self) -> None:
        data = dict(protocol='camvid240 cpu v2', scale=self.args.iters_scale,
                    machine=common.machine_info(),
                    runs=sorted(self.records.values(),
                                key=lambda r: r['key']))
        os.makedirs(osp.dirname(self.out), exist_ok=True)
        common.write_json(self.out, data)

    def teacher(self) -> dict:
        """The trained teacher; ``plain_checkpoint`` is the file in this
        work root with the recorded SHA-256 (records name paths outside
        the repository only by their file name).

        Raises:
            SystemExit: The record's teacher weights are not in the work
                root (another machine): train the teacher there again.
        """
        if self._teacher is None:
            from bench.lib.teacher import find_teacher
            rec = dict(self.run('teacher', 0))
            path = find_teacher(osp.join(self.root, rec['key']),
                                rec.get('plain_sha256'))
            if path is None:
                raise SystemExit(
                    f'{self.out} records a teacher with plain weights '
                    f'{rec.get("plain_sha256")} but no such file is under '
                    f'{osp.join(self.root, rec["key"])}; pass the work root '
                    'that trained it, or remove the teacher record to '
                    'train it again here.')
            rec['plain_checkpoint'] = path
            self._teacher = rec
        return self._teacher

    def fitted(self, arm: str = 'attnfd') -> str:
        """The fitted teacher attention of an AttnFD arm: one CBAM per
        stage, so one file per stage set (fitted once, then cached; the
        package's stage set keeps the first study's folder name)."""
        stages = arm_config(REPO, arm).model.distiller.get('stages', 'auto')
        name = 'fit_attention'
        if stages != 'auto':
            name += '_' + hashlib.sha256(json.dumps(
                stages, sort_keys=True).encode()).hexdigest()[:8]
        work = osp.join(self.root, name)
        out = osp.join(work, 'teacher_attention.pth')
        if not osp.isfile(out):
            from mmengine.config import Config
            cfg = run_cfg('attnfd' if stages == 'auto' else arm, self.data,
                          0, self.args.iters_scale,
                          teacher=self.teacher()['plain_checkpoint'])
            cfg['model']['distiller'].update(
                teacher_attention='random', teacher_attention_ckpt=None)
            os.makedirs(work, exist_ok=True)
            path = osp.join(work, 'attnfd_config.py')
            Config(cfg).dump(path)
            iters = max(int(FIT_ITERS * self.args.iters_scale), 2)
            runs.run_logged([
                sys.executable, osp.join(REPO, 'tools',
                                         'fit_teacher_attention.py'),
                path, '--iters', str(iters), '--work-dir', work,
                '--out', out], osp.join(work, 'fit.log'))
        return out

    def run(self, arm: str, seed: int) -> dict:
        """One finished run (trained now if it is not yet)."""
        key = f'{arm}_seed{seed}'
        if key in self.records:
            return self.records[key]
        from mmseg_attnkd.release.publish import sha256_of_file
        from mmengine.config import Config
        init = teacher = fitted = None
        if arm != 'teacher':
            student = arm_config(REPO, 'baseline').model.to_dict()
            init = runs.paired_init_path(osp.join(self.root, 'init'),
                                         student, seed)
        probe = arm_config(REPO, arm).model
        if 'teacher_ckpt' in probe:
            teacher = self.teacher()['plain_checkpoint']
        if str((probe.get('distiller') or {}).get('type', '')).startswith(
                'AttnFD'):
            fitted = self.fitted(arm)
        cfg = run_cfg(arm, self.data, seed, self.args.iters_scale, init,
                      teacher, fitted)
        iters = Config(cfg).train_cfg.max_iters
        info = dict(key=key, arm=arm, seed=seed, iters=iters,
                    base_arm=V2_ARMS[arm][0] if arm in V2_ARMS else arm,
                    options=V2_ARMS[arm][1] if arm in V2_ARMS else {},
                    uses_teacher=teacher is not None,
                    cpu=common.cpu_model(),
                    init_sha256=sha256_of_file(init) if init else None)
        print(f'[camvid] {key}: {iters} iterations', flush=True)
        record = runs.train_run(osp.join(self.root, key), cfg, info)
        if arm == 'teacher':  # its weights alone: what the students read
            from bench.lib.teacher import plain_teacher
            record.update(plain_teacher(record['checkpoint'],
                                        osp.join(self.root, key)))
        self.records[key] = record
        self.save()
        return record


def main(argv=None) -> List[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--data-root', required=True,
                   help='SegNet CamVid (../shared/data/camvid_segnet)')
    p.add_argument('--arms', nargs='+', default=['baseline'],
                   help=f'of {sorted(ARMS) + sorted(V2_ARMS)}')
    p.add_argument('--seeds', nargs='+', type=int, default=[0, 1])
    p.add_argument('--work-root',
                   default=osp.join(REPO, 'bench', 'cache', 'camvid-v2'))
    p.add_argument('--out-dir', default=osp.join(REPO, 'bench', 'results'))
    p.add_argument('--iters-scale', type=float, default=1.0,
                   help='fraction of every schedule (smoke runs only)')
    a = p.parse_args(argv)
    unknown = [x for x in a.arms if x not in ARMS and x not in V2_ARMS]
    if unknown:
        raise SystemExit(f'unknown arm(s) {unknown}; choose from '
                         f'{sorted(ARMS) + sorted(V2_ARMS)}')
    study = Study(a)
    start, done, failed = time.time(), [], []
    with runs.driver_lock(a.work_root, 'bench/camvid/run.py'):
        for seed in a.seeds:  # seed-major: a stopped study has whole seeds
            for arm in a.arms:
                try:
                    done.append(study.run(arm, seed))
                except runs.RunFailed as exc:  # the other runs go on
                    print(f'[camvid] {arm}_seed{seed} FAILED: {exc}',
                          flush=True)
                    failed.append(f'{arm}_seed{seed}')
    print(f'[camvid] {len(done)} run(s) in {time.time() - start:.0f} s; '
          f'records: {study.out}')
    if failed:
        raise SystemExit(f'{len(failed)} run(s) failed: {failed}; their '
                         'train.log says why; rerun the same command after '
                         'the fix (finished runs are kept).')
    return done


if __name__ == '__main__':
    main()
