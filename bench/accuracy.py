# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""CamVid accuracy protocol v2: paired seeds, choose on val, report on test.

Train on CamVid train (367), choose on val (101), report the final
checkpoint of every finished run once on test (233). Everything trains from
scratch (no pretrained weights offline); only differences between arms under
the same protocol are meaningful.

Order of a protocol (each step resumable, finished runs never redone):

1. the teacher, trained once by this command and cached under a key that
   hashes its config (``teacher_<sha>``);
2. the fitted teacher attention of AttnFD (``tools/fit_teacher_attention.py``
   on the frozen teacher), once per CBAM variant;
3. with ``--ablation``: the AttnFD and axial-SD ablation arms on
   ``ablation_seeds``; with ``--choose-on-val`` the best AttnFD and SD
   settings by mean final val mIoU become those of the main arms;
4. the main arms on ``seeds``: for seed ``k`` every arm starts from the same
   saved student weights and sees the same data order.

Example::

    # smoke run (minutes)
    python bench/accuracy.py --iters 20 --teacher-iters 20 --fit-iters 5 \\
        --val-interval 10 --val-images 8 --seeds 0 --arms baseline attnfd
    # the CPU protocol (about 6 h on 2 cores; restart the same command to
    # resume)
    nohup python bench/accuracy.py --protocol cpu > bench/cache/cpu.log 2>&1 &
    # the GPU twin: ablations, choice on val, main table, 8 runs at a time
    python bench/accuracy.py --protocol gpu --ablation --choose-on-val \\
        --jobs 8 --deadline-min 8
"""
import argparse
import concurrent.futures as futures
import copy
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional

if __package__ in (None, ''):
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from bench import accuracy_report, common, runs  # noqa: E402
from bench import camvid_arms as arms  # noqa: E402


# ---------------------------------------------------------------------------
# data and configs
# ---------------------------------------------------------------------------
def prepare_data(args) -> str:
    """CamVid converted once (train, val, test) at the protocol's scale."""
    scale = args.proto['scale']
    out = args.data_cache or osp.join(common.BENCH_DIR, 'cache',
                                      f'camvid-v2-scale{scale}')
    done = osp.join(out, '.complete')
    if osp.isfile(done) or args.dry_run:
        return out
    if not osp.isdir(args.data_root):
        raise SystemExit(
            f'--data-root {args.data_root} does not exist; pass the SegNet '
            'CamVid folder (train/, val/, test/ and their *annot/ folders).')
    subprocess.run([
        sys.executable,
        osp.join(common.REPO_ROOT, 'tools', 'dataset_converters',
                 'camvid.py'), '--data-root', args.data_root, '--out-dir',
        out, '--splits', 'train', 'val', 'test', '--scale', str(scale)
    ], check=True, cwd=common.REPO_ROOT)
    common.write_text(done, 'ok')
    return out


def train_cfg(model: dict, args, data_root: str, seed: int, iters: int,
              both_outputs: bool = False, workers: Optional[int] = None
              ) -> dict:
    """Complete MMEngine config of one run (test loader = test split)."""
    from mmengine.config import Config
    proto = args.proto
    base = Config.fromfile(
        osp.join(common.REPO_ROOT, 'configs', '_base_', 'datasets',
                 'camvid-240x180.py')).to_dict()
    cfg = copy.deepcopy(base)
    for key, split in (('train_dataloader', 'train'),
                       ('val_dataloader', 'val'), ('test_dataloader',
                                                   'test')):
        loader = cfg[key] = copy.deepcopy(base[key])
        loader['dataset']['data_root'] = data_root
        loader['dataset']['data_prefix'] = dict(
            img_path=f'img_dir/{split}', seg_map_path=f'ann_dir/{split}')
        num_workers = proto['workers'] if workers is None else workers
        loader['num_workers'] = num_workers
        loader['persistent_workers'] = num_workers > 0
        if key != 'train_dataloader' and args.val_images:
            loader['dataset']['indices'] = args.val_images
    cfg['train_dataloader']['batch_size'] = proto['batch']
    val_interval = min(proto['val_interval'], iters)
    warmup = min(proto['warmup'], max(iters // 10, 1))
    gpu = args.protocol == 'gpu'
    cfg.update(
        custom_imports=dict(imports=['mmseg_attnkd'],
                            allow_failed_imports=False),
        default_scope='mmseg',
        model=model,
        randomness=dict(seed=seed),
        env_cfg=dict(cudnn_benchmark=gpu,
                     mp_cfg=dict(mp_start_method='fork',
                                 opencv_num_threads=0),
                     dist_cfg=dict(backend='nccl' if gpu else 'gloo')),
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=proto['lr'], momentum=0.9,
                           weight_decay=5e-4)),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.1, begin=0, end=warmup,
                 by_epoch=False),
            dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=warmup,
                 end=iters, by_epoch=False)
        ],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=iters,
                       val_interval=val_interval),
        # axial SD: score the student and the axial teacher output (the
        # loops apply the trained block exactly as the exported model does)
        val_cfg=dict(type='mmrazor.SegSelfDistillValLoop'
                     if both_outputs else 'ValLoop'),
        test_cfg=dict(type='mmrazor.SegSelfDistillTestLoop'
                      if both_outputs else 'TestLoop'),
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=min(10, iters),
                        log_metric_by_epoch=False),
            param_scheduler=dict(type='ParamSchedulerHook'),
            checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False,
                            interval=val_interval, max_keep_ckpts=1,
                            save_last=True),
            sampler_seed=dict(type='DistSamplerSeedHook')),
        vis_backends=[dict(type='LocalVisBackend')],
        visualizer=dict(type='SegLocalVisualizer',
                        vis_backends=[dict(type='LocalVisBackend')],
                        name='visualizer'),
        log_processor=dict(by_epoch=False),
        log_level='INFO',
        load_from=None,
        resume=False)
    return cfg


# ---------------------------------------------------------------------------
# runs
# ---------------------------------------------------------------------------
missing_runs = accuracy_report.missing_runs


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
        accuracy_report.save(self, final)


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


def plain_teacher(checkpoint: str, work_dir: str) -> dict:
    """The teacher's weights alone (``meta`` + ``state_dict``), its path
    and SHA-256: small enough to commit and to restore the protocol on
    another machine."""
    from mmseg_attnkd.release.publish import sha256_of_file
    from mmseg_attnkd.utils import (get_state_dict, load_checkpoint_safely,
                                    make_plain_checkpoint,
                                    save_checkpoint_atomic)
    path = osp.join(work_dir, 'teacher_plain.pth')
    state = get_state_dict(load_checkpoint_safely(checkpoint))
    save_checkpoint_atomic(make_plain_checkpoint(state), path)
    return dict(plain_checkpoint=path, plain_sha256=sha256_of_file(path))


def find_teacher(folder: str, sha256: Optional[str]) -> Optional[str]:
    """A ``.pth`` under ``folder`` with this SHA-256, if any."""
    import glob

    from mmseg_attnkd.release.publish import sha256_of_file
    if not sha256 or not osp.isdir(folder):
        return None
    for path in sorted(glob.glob(osp.join(folder, '*.pth'))):
        if sha256_of_file(path) == sha256:
            return path
    return None


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


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    if args.report_only:
        return accuracy_report.report_only(args)
    import torch
    if args.protocol == 'gpu' and not torch.cuda.is_available() \
            and not args.dry_run and not args.allow_cpu:
        raise SystemExit('--protocol gpu needs a CUDA device; use --protocol '
                         'cpu here.')
    import mmseg_attnkd  # noqa: F401
    with runs.driver_lock(osp.join(args.work_root, args.protocol),
                          'bench/accuracy.py'):
        return run_protocol(args)


def run_protocol(args) -> List[dict]:
    """Teacher, fits, ablation, val choice and arms, each run once."""
    state = Protocol(args)
    state.teacher = state.run_arm('teacher', 0)
    state.results.append(state.teacher)

    grid = args.proto.get('grid', 'full')
    ablation = []
    if args.ablation:
        ablation = [(arms.attnfd_name(s), s, None)
                    for s in arms.attnfd_ablation(grid)]
        ablation += [(arms.sd_name(s), None, s)
                     for s in arms.sd_ablation(grid)]
    main_attnfd = [args.attnfd] if any(
        a in args.arms for a in ('attnfd', 'attnfd_sd')) else []
    if not args.choose_on_val:
        # an ablation setting equal to a main arm's is that arm's run
        same = {arms.attnfd_name(args.attnfd), arms.sd_name(args.sd)}
        ablation = [a for a in ablation if a[0] not in same]
    settings = [s for _, s, _ in ablation if s] + main_attnfd
    variants = needs_fit(args.arms, settings)
    with futures.ThreadPoolExecutor(max(1, min(len(variants),
                                               args.jobs))) as pool:
        list(pool.map(state.fit_attention, variants))
    # arms that do not depend on a val-based choice train alongside the
    # ablation; the others wait for the choice
    later = [a for a in args.arms if a in arms.CHOICE_ARMS] \
        if args.choose_on_val else []
    # baselines first (every comparison needs them), then the ablation,
    # then the other arms that need no choice
    first = [('baseline', seed, args.attnfd, args.sd) for seed in args.seeds
             if 'baseline' in args.arms]
    first += [(name, seed, None, None) for seed in args.ablation_seeds
              for name, _, _ in ablation]
    first += [(arm, seed, args.attnfd, args.sd) for seed in args.seeds
              for arm in args.arms if arm not in later and arm != 'baseline']
    state.run_many(first)
    if args.choose_on_val and not args.dry_run:
        missing = missing_runs([n for n, _, _ in ablation],
                               args.ablation_seeds, state.results)
        if missing:
            state.save(final=True)
            raise SystemExit(
                f'the val choice needs every ablation run; missing '
                f'{", ".join(missing)}. Rerun the same command to retry '
                'them (the chosen arms start once all have finished).')
        chosen = accuracy_report.choose_on_val(state.results)
        if chosen.get('attnfd'):
            args.attnfd = chosen['attnfd']
        if chosen.get('sd'):
            args.sd = chosen['sd']
        args.chosen = chosen
        for spatial_norm in needs_fit(['attnfd'], [args.attnfd]):
            state.fit_attention(spatial_norm)
    state.run_many([(arm, seed, args.attnfd, args.sd)
                    for seed in args.seeds for arm in later])
    if args.dry_run:
        return state.results
    state.save(final=True)
    if state.failed:
        raise SystemExit(f'{len(state.failed)} run(s) did not finish: '
                         f'{", ".join(state.failed)}; rerun the same command '
                         'to retry them.')
    return state.results


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------
def _settings(items: Optional[List[str]], default: Dict) -> Dict:
    out = dict(default)
    for item in items or []:
        if '=' not in item:
            raise SystemExit(f'setting {item!r}: use key=value')
        key, value = item.split('=', 1)
        if key not in default:
            raise SystemExit(f'setting {key!r}: choose from {list(default)}')
        kind = type(default[key])
        if kind is bool:
            out[key] = value.lower() in ('1', 'true', 'yes')
        else:
            out[key] = kind(value)
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--protocol', choices=tuple(arms.PROTOCOLS),
                        default='cpu')
    parser.add_argument('--data-root',
                        default=osp.join(common.REPO_ROOT, '..', 'shared',
                                         'data', 'camvid_segnet'))
    parser.add_argument('--data-cache', default=None,
                        help='converted data (default bench/cache/'
                        'camvid-v2-scale<s>; converted there if missing)')
    parser.add_argument('--arms', nargs='+', default=list(arms.MAIN_ARMS))
    parser.add_argument('--seeds', nargs='+', type=int, default=None)
    parser.add_argument('--ablation', action='store_true',
                        help='also run the AttnFD and SD ablation arms')
    parser.add_argument('--ablation-seeds', nargs='+', type=int,
                        default=None)
    parser.add_argument('--grid', choices=('small', 'full'), default=None,
                        help="ablation grid (default: the protocol's; "
                        "'full' = every teacher attention with both "
                        'normalisations, the weight swept per '
                        'normalisation, SD weights 1 and 10 / 0.1 and 1)')
    parser.add_argument('--choose-on-val', action='store_true',
                        help='main arms use the ablation settings with the '
                        'best mean final val mIoU')
    parser.add_argument('--attnfd', nargs='+', metavar='KEY=VALUE',
                        help=f'settings of the attnfd arm (default '
                        f'{arms.ATTNFD_DEFAULT})')
    parser.add_argument('--sd', nargs='+', metavar='KEY=VALUE',
                        help=f'settings of the sd arm (default '
                        f'{arms.SD_DEFAULT})')
    for key in ('iters', 'teacher_iters', 'fit_iters', 'val_interval',
                'batch', 'workers'):
        parser.add_argument(f'--{key.replace("_", "-")}', type=int,
                            default=None,
                            help=f'override the protocol\'s {key}')
    parser.add_argument('--val-images', type=int, default=None,
                        help='evaluate on the first N images only (smoke)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs trained at the same time (GPU)')
    parser.add_argument('--deadline-min', type=float, default=None,
                        help='start no new run after this many minutes')
    parser.add_argument('--work-root',
                        default=osp.join(common.BENCH_DIR, 'cache',
                                         'accuracy-v2'))
    parser.add_argument('--out-dir', default=common.RESULTS_DIR)
    parser.add_argument('--teacher-dir',
                        default=osp.join(common.REPO_ROOT, 'demo',
                                         'checkpoints'),
                        help='where a committed teacher (plain checkpoint) '
                        'is looked up by SHA-256 to restore the protocol')
    parser.add_argument('--report-only', action='store_true',
                        help='rebuild tables and plot from the results JSON')
    parser.add_argument('--timed-here', action='store_true',
                        help='with --report-only: record the runs not yet '
                        'in accuracy_<protocol>_machines.json as timed on '
                        'this machine (for results copied from a protocol '
                        'running here)')
    parser.add_argument('--dry-run', action='store_true',
                        help='write and check every config, train nothing')
    parser.add_argument('--allow-cpu', action='store_true',
                        help='run the gpu protocol on a CPU (tests only)')
    args = parser.parse_args(argv)
    known = arms.MAIN_ARMS + arms.EXTRA_ARMS
    unknown = [a for a in args.arms if a not in known]
    if unknown:
        parser.error(f'unknown arms {unknown}; choose from {known}')
    proto = copy.deepcopy(arms.PROTOCOLS[args.protocol])
    for key in ('batch', 'workers', 'val_interval', 'grid'):
        if getattr(args, key) is not None:
            proto[key] = getattr(args, key)
    args.proto = proto
    args.iters = args.iters or proto['iters']
    args.teacher_iters = args.teacher_iters or proto['teacher_iters']
    args.fit_iters = args.fit_iters or proto['fit_iters']
    args.seeds = args.seeds if args.seeds is not None else list(
        proto['seeds'])
    args.ablation_seeds = args.ablation_seeds if args.ablation_seeds \
        is not None else list(proto['ablation_seeds'])
    args.attnfd = _settings(args.attnfd, arms.ATTNFD_DEFAULT)
    args.sd = _settings(args.sd, arms.SD_DEFAULT)
    args.chosen = None
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


if __name__ == '__main__':
    main()
