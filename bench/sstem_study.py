# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial self-distillation on Drosophila ssTEM: six architectures, two outputs.

Reproduces the architecture study of the axial self-distillation source
(student output / teacher output against the plain model) on all 20
labelled ssTEM sections with MMSeg models:

* split by section: 0-11 train, 12-15 val (curves, choices), 16-19 test
  (scored once per finished run); sections converted at ``--scale``;
* architectures (width-reduced, from scratch, BN; see
  ``bench/sstem_arms.py``):
  UNet-S5-D16 + FCN, PSPNet, DeepLabV3, DeepLabV3+ (ResNetV1c-18 layout,
  output stride 8), Semantic FPN, UPerNet (ResNetV1c-18, output stride 32);
* arms, same data order, augmentation, schedule and initial student
  weights per seed:

  - ``baseline``: the plain model;
  - ``sd``: axial self-distillation (``SegSelfDistill`` +
    ``AxialSelfDistiller``, package defaults unless ``--sd-*`` options say
    otherwise); validation scores the student output (``mIoU``) and the
    teacher output (``teacher_output.mIoU``) with
    ``SegSelfDistillValLoop``; test scores both, and the exported
    ``AxialRefineHead`` model is scored too and must equal the teacher
    output;
  - ``ce2``: control, the plain model with the decode-head CE weight
    doubled (the SD arm adds a second CE on the teacher logits), no axial
    block;

* paired initial weights: the plain student is built and initialised once
  per (architecture, seed) and saved; every arm loads it before its first
  step (the axial block is extra and initialised on its own), and all RNGs
  are re-seeded there, so dropout draws are paired too;
* inference: sliding window at the training crop (the models' ``test_cfg``,
  stride 2/3 of the crop) and whole-image inference, both scored on val and
  test; the report uses the mode with the higher mean val mIoU (one choice
  for all architectures and outputs) for its test numbers and latency;
* checkpoint choice on val only: ``--select final`` (default, the last
  iteration) or ``best`` (best val mIoU of each output);
* cost: parameters and FLOPs (one crop window) of both outputs, CPU latency
  of a whole test section in each inference mode.

Every (architecture, arm, seed) is a work dir with ``result.json``;
finished runs are skipped, interrupted ones resume from their last
checkpoint with the random states saved in it (``RandomStateHook``), so a
resumed run draws the same dropout and flips as an uninterrupted one.
``--jobs`` runs several at once (GPU), ``--deadline-min`` stops starting
runs (and ends unfinished ones, resumable later) after that budget, and the
report covers whatever finished.

Outputs (written by ``bench/sstem_report.py``):
``bench/results/sstem_study_<protocol>.{md,json,png}`` and the generated
section of ``configs/axial_sd/README.md``.

Example::

    python bench/sstem_study.py --protocol cpu --measure-steps 3   # sizing
    nohup python bench/sstem_study.py --protocol cpu &             # resumable
    python bench/sstem_study.py --protocol gpu                      # one GPU
    python bench/sstem_study.py --protocol cpu --sd-mse-target logits \\
        --sd-mse-weight 0.5 --sd-detach-input --work-root bench/cache/x
"""
import argparse
import copy
import glob
import hashlib
import json
import os
import os.path as osp
import shlex
import signal
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

if __package__ in (None, ''):
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from bench import common, runs  # noqa: E402
from bench.sstem_arms import (ARCH_NAMES, ARCHS, ARMS,  # noqa: E402
                              INFERENCE_MODES, NUM_CLASSES, PROTOCOLS,
                              TEACHER_KEY, arm_model, build,
                              teacher_output_model)
from bench.sstem_report import (aggregate, inference_mode,  # noqa: E402
                                plot, run_seconds, summarize)

#: Code whose commit a run records.
CODE_PATHS = ('bench', 'mmseg_attnkd', 'configs')


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
def prepare_data(args) -> str:
    """Convert the 20 sections once (train 0-11, val 12-15, test 16-19).

    A ``--data-dir`` passed by the user that already holds
    ``img_dir/{train,val,test}`` and was not converted by this script is
    used as it is; the default cache without its ``.complete`` stamp (an
    interrupted conversion) is converted again.

    Returns:
        str: The converted root (``--data-dir``, default
        ``bench/cache/sstem-scale<scale>``).
    """
    from mmseg_attnkd.datasets.converters import convert_drosophila_sstem
    from mmseg_attnkd.datasets.converters.drosophila_sstem import \
        SSTEM_STUDY_SPLIT
    out = args.data_dir
    stamp = json.dumps(dict(scale=args.scale, split=SSTEM_STUDY_SPLIT),
                       sort_keys=True)
    done = osp.join(out, '.complete')
    if osp.isfile(done):
        with open(done) as f:
            if f.read().strip() == stamp:
                return out
        raise SystemExit(f'{out} holds another conversion (see its '
                         '.complete); pass another --data-dir.')
    if getattr(args, 'data_dir_given', True) and all(
            osp.isdir(osp.join(out, 'img_dir', split))
            for split in ('train', 'val', 'test')):
        print(f'[data] using the converted data in {out} as it is',
              flush=True)
        return out
    if not osp.isdir(args.data_root):
        raise FileNotFoundError(
            f'--data-root {args.data_root} does not exist; pass the ssTEM '
            'folder with raw/ and labels/ (../shared/data/drosophila_sstem), '
            'or an already converted --data-dir.')
    counts = convert_drosophila_sstem(
        args.data_root, out, train_sections=SSTEM_STUDY_SPLIT['train'],
        val_sections=SSTEM_STUDY_SPLIT['val'],
        test_sections=SSTEM_STUDY_SPLIT['test'], scale=args.scale)
    print(f'[data] converted {counts} at scale {args.scale} -> {out}',
          flush=True)
    common.write_text(done, stamp)
    return out


def _image_size(data_dir: str, split: str = 'test') -> Tuple[int, int]:
    from PIL import Image
    names = sorted(os.listdir(osp.join(data_dir, 'img_dir', split)))
    with Image.open(osp.join(data_dir, 'img_dir', split, names[0])) as img:
        return img.size[1], img.size[0]  # (H, W)


def dataset_cfg(data_dir: str, args) -> dict:
    """Dataloaders/evaluators of ``configs/_base_/datasets/drosophila_sstem``
    for the converted scale and the protocol's crop."""
    from mmengine.config import Config
    base = Config.fromfile(
        osp.join(common.REPO_ROOT, 'configs', '_base_', 'datasets',
                 'drosophila_sstem.py')).to_dict()
    # keep the converted size (a --data-dir converted elsewhere may have
    # another scale than --scale)
    h, w = _image_size(data_dir, 'train')
    img_scale = (w, h)
    out = {}
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = copy.deepcopy(base[key])
        loader['dataset']['data_root'] = data_dir
        loader['num_workers'] = args.workers
        loader['persistent_workers'] = args.workers > 0
        for step in loader['dataset']['pipeline']:
            if step['type'] in ('RandomResize', 'Resize'):
                step['scale'] = img_scale
            if step['type'] == 'RandomCrop':
                step['crop_size'] = tuple(args.crop)
        out[key] = loader
    out['train_dataloader']['batch_size'] = args.batch
    out['val_evaluator'] = base['val_evaluator']
    out['test_evaluator'] = base['test_evaluator']
    return out


# ---------------------------------------------------------------------------
# paired initial weights
# ---------------------------------------------------------------------------
def state_digest(state: Dict) -> str:
    """SHA-256 of a state dict (keys and exact tensor bytes, sorted)."""
    digest = hashlib.sha256()
    for key in sorted(state):
        value = state[key]
        digest.update(key.encode())
        if hasattr(value, 'detach'):
            arr = value.detach().cpu().contiguous()
            digest.update(f'{arr.dtype}{tuple(arr.shape)}'.encode())
            digest.update(arr.numpy().tobytes())
    return digest.hexdigest()


def make_initial_weights(arch: str, seed: int, args) -> str:
    """Initialise the plain student once per (arch, seed); return its path."""
    import torch
    from mmengine.runner import set_random_seed
    student = arm_model(arch, 'baseline', args)
    path = osp.join(args.work_root, args.protocol, 'init',
                    f'{arch}_seed{seed}_{runs.config_digest(student)}.pth')
    if osp.isfile(path):
        return path
    set_random_seed(seed)
    model = build(student)
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    torch.save(dict(state_dict=model.state_dict(),
                    meta=dict(arch=arch, seed=seed)), tmp)
    os.replace(tmp, path)
    return path


def _student(model):
    from mmengine.model import is_model_wrapper
    model = model.module if is_model_wrapper(model) else model
    return getattr(model, 'architecture', model)


def paired_init_hook(init_path: str, seed: int, digest_path: str):
    """A hook that loads the saved student weights before the first step.

    Every arm builds its model under the same seed, but the SD arm also
    builds an axial block, so random states differ after the build; the
    hook therefore loads the saved student (strictly: the same keys in
    every arm) and re-seeds Python, NumPy and torch, so the student's
    weights and the training noise (dropout) start identical in every arm.
    A resumed run (``runner.iter > 0``) keeps its checkpoint.
    """
    from mmengine.hooks import Hook
    from mmengine.runner import set_random_seed

    class PairedInitHook(Hook):
        priority = 'VERY_HIGH'

        def before_train(self, runner) -> None:
            if runner.iter > 0:
                return
            import torch
            student = _student(runner.model)
            state = torch.load(init_path, map_location='cpu',
                               weights_only=True)['state_dict']
            student.load_state_dict(state, strict=True)
            set_random_seed(seed)
            common.write_text(digest_path,
                              state_digest(student.state_dict()))
            runner.logger.info(f'paired initial student weights from '
                               f'{common.rel(init_path)}')

    return PairedInitHook()


# ---------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------
def run_dir(args, arch: str, arm: str, seed: int) -> str:
    return osp.join(args.work_root, args.protocol, f'{arch}_{arm}_seed{seed}')


def optimizer_cfg(name: str, lr: float) -> dict:
    """SGD with momentum as MMSeg's configs, or AdamW."""
    if name == 'adamw':
        return dict(type='AdamW', lr=lr, betas=(0.9, 0.999),
                    weight_decay=0.01)
    return dict(type='SGD', lr=lr, momentum=0.9, weight_decay=5e-4)


def train_cfg(arch: str, arm: str, seed: int, args, data_dir: str,
              work_dir: str) -> dict:
    iters = args.iters
    val_interval = min(args.val_interval, iters)
    model = arm_model(arch, arm, args)
    save_best = ['mIoU', TEACHER_KEY] if arm == 'sd' else ['mIoU']
    cfg = dataset_cfg(data_dir, args)
    cfg.update(
        custom_imports=dict(imports=['mmseg_attnkd'],
                            allow_failed_imports=False),
        default_scope='mmseg',
        model=model,
        work_dir=work_dir,
        randomness=dict(seed=seed),
        env_cfg=dict(cudnn_benchmark=False,
                     mp_cfg=dict(mp_start_method='fork',
                                 opencv_num_threads=0),
                     dist_cfg=dict(backend='nccl')),
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=optimizer_cfg(args.optimizer, args.lr)),
        param_scheduler=[
            dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=iters,
                 by_epoch=False)
        ],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=iters,
                       val_interval=val_interval),
        val_cfg=dict(type='mmrazor.SegSelfDistillValLoop')
        if arm == 'sd' else dict(type='ValLoop'),
        test_cfg=dict(type='TestLoop'),
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=min(20, iters),
                        log_metric_by_epoch=False),
            param_scheduler=dict(type='ParamSchedulerHook'),
            # frequent (small) checkpoints: an interruption loses little
            checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False,
                            interval=min(val_interval, 100),
                            max_keep_ckpts=1,
                            save_best=save_best, rule='greater'),
            sampler_seed=dict(type='DistSamplerSeedHook')),
        # a resumed run draws the same dropout and flips as an uninterrupted
        # one, and validation does not move the random stream
        custom_hooks=[dict(type='RandomStateHook')],
        vis_backends=[dict(type='LocalVisBackend')],
        visualizer=dict(type='SegLocalVisualizer',
                        vis_backends=[dict(type='LocalVisBackend')],
                        name=f'visualizer:{arch}_{arm}_{seed}'),
        log_processor=dict(by_epoch=False),
        log_level='INFO',
        load_from=None,
        resume=True)
    return cfg


def read_curves(work_dir: str) -> dict:
    """Val mIoU of both outputs per iteration, median s/iter and the
    logged training seconds of every segment of a resumed run (logs)."""
    scalars = runs.read_scalars(work_dir)
    return dict(val_student=scalars['val'],
                val_teacher=scalars.get('teacher_output_val', {}),
                sec_per_iter=scalars['sec_per_iter'],
                train_logged_s=max(scalars['train_seconds'].values(),
                                   default=0.0),
                diverged=scalars.get('diverged', False),
                loss_last=scalars.get('loss_last'))



def _evaluate(model, cfg, split: str, mode: Optional[str] = None) -> dict:
    """Both outputs of ``model`` on ``split`` ('val'/'test') without hooks.

    ``mode`` ('slide'/'whole') overrides the segmentor's ``test_cfg`` for
    this evaluation only.
    """
    from mmengine.evaluator import Evaluator
    from mmengine.runner import Runner

    from mmseg_attnkd.engine import evaluate_outputs
    loader = Runner.build_dataloader(copy.deepcopy(cfg[f'{split}_dataloader']))
    evaluator = Evaluator(copy.deepcopy(cfg[f'{split}_evaluator']))
    evaluator.dataset_meta = loader.dataset.metainfo
    student = _student(model)
    saved = student.test_cfg
    if mode is not None and mode != saved.get('mode'):
        from mmengine.config import ConfigDict
        student.test_cfg = ConfigDict(mode=mode)
    try:
        metrics = evaluate_outputs(model, loader, evaluator)
    finally:
        student.test_cfg = saved
    return {k: float(v) for k, v in metrics.items()
            if k.endswith(('mIoU', 'mDice', 'aAcc'))}


def _load_weights(model, ckpt: str) -> None:
    from mmengine.runner import load_checkpoint
    load_checkpoint(model, ckpt, map_location='cpu', strict=True,
                    logger='silent')


def worker(work_dir: str) -> dict:
    """Train one run (resuming), evaluate it, write ``result.json``."""
    import torch
    with open(osp.join(work_dir, 'spec.json')) as f:
        spec = json.load(f)
    # every commit and command that trained a segment of this run (a resume
    # may come from a later one; the digest covers the config, not the code)
    pending = spec.pop('pending', None) or {}
    spec.setdefault('commits', [])
    spec.setdefault('commands', [])
    if pending.get('commit') and pending['commit'] not in spec['commits']:
        spec['commits'].append(pending['commit'])
    if pending.get('command'):
        spec['commands'].append(pending['command'])
    common.write_text(osp.join(work_dir, 'spec.json'),
                      json.dumps(spec, indent=1))
    torch.set_num_threads(spec['threads'])
    import mmseg_attnkd  # noqa: F401
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mmseg_attnkd.utils import adapt_cfg_to_environment
    cfg_path = osp.join(work_dir, 'config.py')
    cfg = Config.fromfile(cfg_path)
    adapt_cfg_to_environment(cfg)
    start = time.time()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(paired_init_hook(
        spec['init'], spec['seed'], osp.join(work_dir, 'init_student.sha256')))
    runner.train()
    train_wall = time.time() - start
    model = runner.model
    device = next(model.parameters()).device
    final = runs.last_checkpoint(work_dir)
    out = dict(spec, train_wall_s=train_wall, checkpoint=final)
    out.update(read_curves(work_dir))
    with open(osp.join(work_dir, 'init_student.sha256')) as f:
        out['init_student_sha256'] = f.read().strip()

    # inference both ways on val (final weights): the study's evidence for
    # the sliding-window test_cfg of the configs
    start = time.time()
    out['val_final'] = {mode: _evaluate(model, cfg, 'val', mode)
                        for mode in INFERENCE_MODES}
    # test once per inference mode, at the checkpoint chosen on val; the
    # report uses the mode that val prefers (see inference_mode)
    out['test_by_mode'] = {mode: {} for mode in INFERENCE_MODES}
    if spec['select'] == 'final':
        for mode in INFERENCE_MODES:
            out['test_by_mode'][mode] = _evaluate(model, cfg, 'test', mode)
        out['test_checkpoints'] = dict(student=final, teacher=final)
    else:
        out['test_checkpoints'] = {}
        keys = [('student', 'mIoU')]
        if spec['arm'] == 'sd':
            keys.append(('teacher', TEACHER_KEY))
        for output, key in keys:
            best = sorted(glob.glob(osp.join(work_dir, f'best_{key}_*.pth')))
            ckpt = best[-1] if best else final
            _load_weights(model, ckpt)
            out['test_checkpoints'][output] = ckpt
            for mode in INFERENCE_MODES:
                metrics = _evaluate(model, cfg, 'test', mode)
                out['test_by_mode'][mode].update(
                    {k: v for k, v in metrics.items()
                     if k.startswith('teacher_output.') == (
                         output == 'teacher')})
    # the models' own test_cfg (sliding window): what the export must equal
    out['test'] = out['test_by_mode']['slide']
    if spec['arm'] == 'sd':
        # the exported AxialRefineHead model must give the same test score
        from mmseg.apis import init_model

        from mmseg_attnkd.utils import export_axial_refine
        ckpt = out['test_checkpoints']['teacher']
        e_ckpt, e_cfg = export_axial_refine(
            cfg_path, ckpt, osp.join(work_dir, 'export', 'teacher_output.pth'))
        exported = init_model(e_cfg, e_ckpt, device=str(device))
        metrics = _evaluate(exported, cfg, 'test')
        out['test_export_teacher_mIoU'] = metrics['mIoU']
    out['eval_wall_s'] = time.time() - start
    out['device'] = str(device)
    common.write_json(osp.join(work_dir, 'result.json'), out)
    return out


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
                config_sha=_settings_sha(cfg, args, work_dir, data_dir),
                init=make_initial_weights(arch, seed, args))
    spec_path = osp.join(work_dir, 'spec.json')
    spec.update(commits=[], commands=[])
    if osp.isfile(spec_path):
        with open(spec_path) as f:
            old = json.load(f)
        if old.get('config_sha') != spec['config_sha']:
            raise SystemExit(_other_settings(work_dir))
        spec.update(commits=old.get('commits', []),
                    commands=old.get('commands', []))
    # the worker moves these into commits/commands when it starts training,
    # so a dry run or a run stopped at the deadline records nothing
    spec['pending'] = dict(commit=common.git_commit(CODE_PATHS),
                           command=getattr(args, 'command', None))
    Config(cfg).dump(osp.join(work_dir, 'config.py'))
    common.write_text(spec_path, json.dumps(spec, indent=1))
    return work_dir


def run_config_sha(arch: str, arm: str, seed: int, args,
                   data_dir: str) -> str:
    """Digest of a run's settings, so a run is resumed or reused only under
    the settings it was started with."""
    work_dir = run_dir(args, arch, arm, seed)
    return _settings_sha(train_cfg(arch, arm, seed, args, data_dir, work_dir),
                         args, work_dir, data_dir)


def _settings_sha(cfg: dict, args, work_dir: str, data_dir: str) -> str:
    """The training config and ``--select`` (which checkpoint the test
    scores), with the run's and the data's paths masked."""
    return runs.config_digest(dict(cfg, select=args.select), work_dir,
                              data_dir)


def _other_settings(work_dir: str) -> str:
    return (f'{work_dir} was started with other settings (config, schedule '
            'or --select); pass a new --work-root for them, or delete that '
            'folder to run it again.')


def _spec_sha(work_dir: str) -> str:
    """The settings digest a run was (re)started with (its spec.json)."""
    with open(osp.join(work_dir, 'spec.json')) as f:
        return json.load(f)['config_sha']


def _load_result(work_dir: str, sha: str) -> Optional[dict]:
    """A finished run's result; refuses one made under other settings."""
    path = osp.join(work_dir, 'result.json')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        result = json.load(f)
    if result.get('config_sha') != sha:
        raise SystemExit(_other_settings(work_dir))
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
        done = _load_result(work_dir, sha) or _restore(
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
                [sys.executable, osp.abspath(__file__), '--worker', work_dir],
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
            result = _load_result(work_dir, _spec_sha(work_dir))
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


# ---------------------------------------------------------------------------
# cost: params, FLOPs, CPU latency
# ---------------------------------------------------------------------------
def _latency_ms(model, size: Tuple[int, int], repeats: int) -> float:
    import torch
    h, w = size
    inputs = torch.randn(1, 3, h, w)
    metas = [dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w))]
    times = []
    with torch.no_grad():
        for i in range(repeats + 1):
            start = time.perf_counter()
            model.inference(inputs, [dict(m) for m in metas])
            if i:  # the first call warms up
                times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def complexity(arch: str, args, image_size: Tuple[int, int]) -> dict:
    """Params/FLOPs (one crop window) and CPU latency (one section, per
    inference mode: ``latency_ms[mode]``) of the student and the
    teacher-output model."""
    import torch

    from mmseg_attnkd.analysis.complexity import segmentor_complexity
    models = (('student', arm_model(arch, 'baseline', args)),
              ('teacher', teacher_output_model(arch, args)))
    # keyed by the measured models, the input and the threads
    sha = runs.config_digest([models, list(args.crop), list(image_size),
                              list(INFERENCE_MODES)])
    path = osp.join(args.work_root, args.protocol,
                    f'complexity_{arch}_{args.latency_threads}t_{sha}.json')
    if osp.isfile(path):
        with open(path) as f:
            return json.load(f)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.latency_threads)
    out = {}
    try:
        for name, cfg in models:
            cost = segmentor_complexity(
                build(dict(cfg, _scope_='mmseg')).eval(), tuple(args.crop))
            latency = {}
            for mode in INFERENCE_MODES:
                test_cfg = cfg['test_cfg'] if mode == 'slide' else dict(
                    mode='whole')
                model = build(dict(cfg, _scope_='mmseg',
                                   test_cfg=test_cfg)).eval()
                latency[mode] = _latency_ms(model, image_size,
                                            args.latency_repeats)
            out[name] = dict(params=cost['params'], flops=cost['flops'],
                             latency_ms=latency)
    finally:
        torch.set_num_threads(threads)
    out.update(crop=list(args.crop), image=list(image_size),
               threads=args.latency_threads)
    common.write_json(path, out)
    return out



#: README of the method, with a generated section per protocol.
AXIAL_README = osp.join(common.REPO_ROOT, 'configs', 'axial_sd', 'README.md')


def write_report(results: List[dict], args, info: dict, extra: dict) -> str:
    name = f'sstem_study_{args.protocol}'
    costs = {}
    if not args.no_cost:
        for arch in args.archs:
            costs[arch] = complexity(arch, args, tuple(extra['image']))
    extra['runs_wall_s'] = sum(
        run_seconds(r) for r in results)
    text = aggregate(results, costs, args, info, extra)
    plot(results, osp.join(args.out_dir, f'{name}.png'))
    data = dict(machine=info, extra=extra, args=_public_args(args),
                costs=costs, runs=results)
    mode, data['slide_minus_whole_val'] = inference_mode(results)
    data.update(inference_mode=mode, summary=summarize(results, mode))
    common.save_results(args.out_dir, name, text, data, readme=False)
    if common.is_results_dir(args.out_dir):
        common.update_readme(name, text, AXIAL_README)
    return text


def _public_args(args) -> dict:
    return {k: v for k, v in vars(args).items() if k not in ('start', )}


# ---------------------------------------------------------------------------
# step times (sizing the protocols)
# ---------------------------------------------------------------------------
def measure_steps(args) -> str:
    """Time a few training steps per (arch, arm) on synthetic batches and
    estimate the protocol's total time."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    torch.set_num_threads(args.threads)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    rows, est = [], 0.0
    side = int(round(1024 * args.scale))
    for arch in args.archs:
        per_arm = {}
        for arm in ('baseline', 'sd'):
            model = build(arm_model(arch, arm, args)).to(device)
            model.train()
            with DefaultScope.overwrite_default_scope('mmseg'):
                optim = build_optim_wrapper(model, dict(
                    type='OptimWrapper',
                    optimizer=optimizer_cfg(args.optimizer, args.lr)))
            # the data preprocessor puts the batch on the model's device
            batch = common.synthetic_batch(model, args.batch, args.crop,
                                           NUM_CLASSES)
            times, cpu = [], []
            for i in range(args.measure_steps + 1):
                start, start_cpu = time.perf_counter(), time.process_time()
                losses = model(**batch, mode='loss')
                loss, _ = model.parse_losses(losses)
                optim.update_params(loss)
                if device == 'cuda':
                    torch.cuda.synchronize()
                if i:
                    times.append(time.perf_counter() - start)
                    cpu.append(time.process_time() - start_cpu)
            # on a shared CPU the wall time depends on the load; the CPU
            # seconds of one thread do not (estimates use them)
            per_arm[arm] = statistics.median(
                cpu if device == 'cpu' and args.threads == 1 else times)
            per_arm[f'{arm}_wall'] = statistics.median(times)
            if arm == 'baseline' and device == 'cpu':
                model.eval()
                start_cpu = time.process_time()
                _latency_ms(model.cpu(), (side, side), 1)
                per_arm['slide_s'] = (time.process_time() - start_cpu) / 2
        # ce2 costs what the baseline costs. Evaluation passes over the 4
        # val/test sections per run: every val (SD: both outputs), then at
        # the end val slide + whole (whole ~ half a slide pass) and test
        # (SD: both outputs, plus the exported model on test), test whole
        n_val = args.iters // args.val_interval
        train = (2 * per_arm['baseline'] + per_arm['sd']) * args.iters
        passes = 4 * (n_val + 3) + 1
        evals = per_arm.get('slide_s', 0.0) * 4 * passes
        run_s = train + evals
        est += run_s * len(args.seeds)
        rows.append([ARCH_NAMES[arch], f'{per_arm["baseline"]:.3f}',
                     f'{per_arm["sd"]:.3f}',
                     f'{per_arm["sd"] / per_arm["baseline"]:.2f}',
                     f'{per_arm.get("slide_s", float("nan")):.2f}',
                     f'{run_s / 60:.1f}'])
    jobs = max(args.jobs, 1)
    text = '\n'.join([
        f'### ssTEM study step times, {args.protocol} protocol ({device})',
        '', f'Machine: {common.machine_line(common.machine_info())}. '
        f'Synthetic batches of {args.batch} x {args.crop[1]}x'
        f'{args.crop[0]}, base width {args.width} (UNet '
        f'{args.unet_width}), '
        f'{args.threads} thread(s), median of {args.measure_steps} steps '
        'after one warm-up (data loading not included); '
        + ('CPU seconds of one thread (independent of the load of a shared '
           'machine).' if device == 'cpu' and args.threads == 1 else
           'wall seconds.'), '',
        common.md_table(['architecture', 'baseline s/iter', 'SD s/iter',
                         'SD / baseline', 'slide inference of one section '
                         '(s, student, CPU)',
                         f'3 arms x {args.iters} iters (min)'], rows), '',
        f'Estimate for {len(args.seeds)} seed(s), {len(args.archs)} '
        f'architectures, 3 arms, {args.iters} iterations, val every '
        f'{args.val_interval}: {est / 3600:.2f} h of the measured unit '
        '(training and evaluation, no data loading)'
        + (f'; {jobs} runs at a time, one core each: '
           f'{est / 3600 / jobs:.2f} h' if device == 'cpu'
           and args.threads == 1 and jobs > 1 else
           f'; with 2 threads at an assumed 1.5x speed-up: '
           f'{est / 3600 / 1.5:.2f} h' if device == 'cpu'
           and args.threads == 1 else f', {jobs} job(s) at a time') +
        '. The logged s/iter of real runs is the reference.'])
    return text


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--worker', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--protocol', choices=tuple(PROTOCOLS),
                        default='cpu')
    parser.add_argument('--data-root',
                        default=osp.join(common.REPO_ROOT, '..', 'shared',
                                         'data', 'drosophila_sstem'),
                        help='ssTEM release folder (raw/, labels/)')
    parser.add_argument('--data-dir', default=None,
                        help='converted data (default bench/cache/'
                        'sstem-scale<scale>); converted from --data-root '
                        'when missing')
    parser.add_argument('--scale', type=float, default=None,
                        help='section resize at conversion (protocol '
                        'default 0.5: 512x512)')
    parser.add_argument('--archs', nargs='+', default=list(ARCHS),
                        choices=ARCHS)
    parser.add_argument('--arms', nargs='+', default=list(ARMS),
                        choices=ARMS)
    parser.add_argument('--seeds', nargs='+', type=int, default=None)
    parser.add_argument('--iters', type=int, default=None)
    parser.add_argument('--val-interval', type=int, default=None)
    parser.add_argument('--width', type=int, default=None,
                        help='base channels of the models (protocol '
                        'default)')
    parser.add_argument('--unet-width', type=int, default=None,
                        help='base channels of UNet (protocol default; its '
                        'decoder runs at full resolution, so it is halved)')
    parser.add_argument('--crop', type=int, default=None,
                        help='square training crop = sliding window '
                        '(protocol default 256; stride 2/3 of it)')
    parser.add_argument('--batch', type=int, default=None,
                        help='training batch (protocol default)')
    parser.add_argument('--workers', type=int, default=None,
                        help='dataloader workers per run (protocol default)')
    parser.add_argument('--optimizer', choices=('sgd', 'adamw'),
                        default=None, help='default: the protocol\'s')
    parser.add_argument('--lr', type=float, default=None,
                        help='default: the protocol\'s')
    parser.add_argument('--select', choices=('final', 'best'),
                        default='final',
                        help='checkpoint scored on test, chosen on val: the '
                        'last one, or the best val mIoU of each output')
    parser.add_argument('--jobs', type=int, default=None,
                        help='runs at a time, each in its own process '
                        '(protocol default); 0: one after the other in '
                        'this process')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads per run (protocol default)')
    parser.add_argument('--deadline-min', type=float, default=None,
                        help='start no run after this many minutes; runs '
                        'still going --grace-min later are stopped '
                        '(resumable) and the report covers what finished')
    parser.add_argument('--grace-min', type=float, default=None)
    parser.add_argument('--work-root',
                        default=osp.join(common.BENCH_DIR, 'cache',
                                         'sstem_study'))
    parser.add_argument('--out-dir', default=common.RESULTS_DIR)
    parser.add_argument('--latency-threads', type=int, default=2)
    parser.add_argument('--latency-repeats', type=int, default=5)
    parser.add_argument('--no-cost', action='store_true',
                        help='skip params/FLOPs/latency (smoke runs)')
    parser.add_argument('--report-only', action='store_true',
                        help='rebuild table, plot and README section from '
                        'the finished runs in --work-root; trains nothing')
    parser.add_argument('--dry-run', action='store_true',
                        help='write and check every run config, train '
                        'nothing')
    parser.add_argument('--measure-steps', type=int, default=0,
                        help='time N training steps per architecture and '
                        'arm, estimate the protocol time, train nothing')
    sd = parser.add_argument_group(
        'axial self-distillation (defaults: the package defaults)')
    sd.add_argument('--sd-span', type=int, default=None,
                    help='default: max(64, training logit side / stride)')
    sd.add_argument('--sd-channels', type=int, default=None)
    sd.add_argument('--sd-heads', type=int, default=None)
    sd.add_argument('--sd-long-axis', choices=('interpolate', 'window'),
                    default=None)
    sd.add_argument('--sd-unet-stride', type=int, default=None,
                    help='axial pooling stride of UNet (default 4)')
    sd.add_argument('--sd-detach-input', action='store_true')
    sd.add_argument('--sd-ce-weight', type=float, default=None)
    sd.add_argument('--sd-mse-weight', type=float, default=None)
    sd.add_argument('--sd-mse-target', choices=('prob', 'logits'),
                    default=None)
    sd.add_argument('--sd-no-detach-teacher', action='store_true')
    args = parser.parse_args(argv)
    proto = PROTOCOLS[args.protocol]
    for key in ('scale', 'iters', 'val_interval', 'width', 'jobs', 'threads',
                'deadline_min', 'grace_min', 'batch', 'workers',
                'unet_width', 'optimizer', 'lr'):
        if getattr(args, key) is None:
            setattr(args, key, proto[key])
    if args.seeds is None:
        args.seeds = list(proto['seeds'])
    if args.crop is None:
        args.crop, args.stride = tuple(proto['crop']), tuple(proto['stride'])
    else:  # sliding-window stride 2/3 of the crop, as MMSeg's configs
        args.crop = (args.crop, args.crop)
        args.stride = (round(2 * args.crop[0] / 3), ) * 2
    args.data_dir_given = args.data_dir is not None
    if args.data_dir is None:
        args.data_dir = osp.join(common.BENCH_DIR, 'cache',
                                 f'sstem-scale{args.scale}')
    args.start = time.time()
    return args


def _results_in(args) -> List[dict]:
    out = []
    for seed in args.seeds:
        for arch in args.archs:
            for arm in args.arms:
                r = _load_result(
                    run_dir(args, arch, arm, seed),
                    run_config_sha(arch, arm, seed, args, args.data_dir))
                if r is not None:
                    out.append(r)
    return out


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    if args.worker:
        return [worker(args.worker)]
    # committed results name no machine path (see common.write_json)
    command = 'python bench/sstem_study.py ' + ' '.join(
        shlex.quote(str(common._repo_relative(a)))
        for a in (sys.argv[1:] if argv is None else argv))
    import torch
    if args.protocol == 'gpu' and not torch.cuda.is_available() and not (
            args.dry_run or args.report_only or args.measure_steps):
        raise SystemExit('--protocol gpu needs a CUDA device; use --protocol '
                         'cpu here (or --dry-run).')
    args.command = command
    import mmseg_attnkd  # noqa: F401
    if args.measure_steps:
        text = measure_steps(args)
        common.write_text(osp.join(
            args.out_dir, f'sstem_steptimes_{args.protocol}.md'), text)
        print(text)
        return []
    # a plain `kill` ends the runs too (they resume on the next call)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    info = common.machine_info()
    data_dir = args.data_dir if args.report_only else prepare_data(args)
    failed, stopped = [], []
    if args.report_only:
        results = _results_in(args)
        old = osp.join(args.out_dir, f'sstem_study_{args.protocol}.json')
        if osp.isfile(old):  # keep the machine line of the runs
            with open(old) as f:
                info = json.load(f).get('machine', info)
    else:
        with runs.driver_lock(osp.join(args.work_root, args.protocol),
                              'bench/sstem_study.py'):
            results, failed, stopped = run_all(args, data_dir)
        if args.dry_run:
            return results
    extra = dict(commit=common.git_commit(CODE_PATHS), command=command,
                 wall_s=time.time() - args.start,
                 image=list(_image_size(data_dir)),
                 failed=failed, stopped=stopped)
    if results:
        text = write_report(results, args, info, extra)
        print(text)
    if failed:
        raise SystemExit(f'{len(failed)} run(s) failed: {", ".join(failed)};'
                         ' see their run.log; rerun the same command to '
                         'retry them.')
    return results


if __name__ == '__main__':
    main()
