# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial self-distillation on Drosophila ssTEM: six architectures, two outputs.

Reproduces the architecture study of the axial self-distillation source
(student output / teacher output against the plain model) on all 20
labelled ssTEM sections with MMSeg models:

* split by section: 0-11 train, 12-15 val (curves, choices), 16-19 test
  (scored once per finished run); sections converted at ``--scale``;
* architectures (width-reduced, from scratch, BN; see :data:`ARCHS`):
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

Outputs: ``bench/results/sstem_study_<protocol>.{md,json,png}`` and the
generated section of ``configs/axial_sd/README.md``.

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
import math
import os
import os.path as osp
import shlex
import signal
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

if __package__ in (None, ''):
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from bench import common, runs, stats  # noqa: E402

NUM_CLASSES = 5
#: Architectures, in report order, with the name used by the source.
ARCHS = ('unet', 'pspnet', 'deeplabv3', 'deeplabv3plus', 'fpn', 'upernet')
ARCH_NAMES = dict(unet='UNet-S5-D16 + FCN', pspnet='PSPNet',
                  deeplabv3='DeepLabV3', deeplabv3plus='DeepLabV3+',
                  fpn='Semantic FPN', upernet='UPerNet')
ARMS = ('baseline', 'sd', 'ce2')
#: Output stride of the logits and the default axial pooling stride.
LOGIT_STRIDE = dict(unet=1, pspnet=8, deeplabv3=8, deeplabv3plus=4, fpn=4,
                    upernet=4)
AXIAL_STRIDE = dict(unet=4)
#: The source's Drosophila deltas (mIoU points vs the plain model):
#: (student output, teacher output). UPerNet is not in the source.
SOURCE_DELTAS = dict(unet=(0.71, 0.78), pspnet=(-1.32, -1.27),
                     deeplabv3=(0.76, 0.08), deeplabv3plus=(3.60, 2.83),
                     fpn=(-0.14, 0.28), upernet=None)
#: Source models without an MMSeg counterpart here (for the record).
SOURCE_OTHER = dict(LinkNet=(2.52, 2.62), PAN=(-0.15, 0.76),
                    UNetPlusPlus=(0.23, 0.28), MAnet=(1.34, 1.45))
TEACHER_KEY = 'teacher_output.mIoU'
#: Test-time inference modes scored on val and test (see inference_mode).
INFERENCE_MODES = ('slide', 'whole')
#: Code whose commit a run records.
CODE_PATHS = ('bench', 'mmseg_attnkd', 'configs')

#: Protocols. ``scale``: section resize at conversion (1024 -> 512);
#: ``crop``: training crop = sliding window; ``width``: base channels of
#: the width-reduced models (see :func:`arch_model`).
#: Sized from measured step times (bench/results/sstem_steptimes_*.md):
#: cpu ~4 h of 2 cores for 2 seeds (the deadline stops new runs at 4 h 45);
#: gpu: the same models and crops, twice the batch, 3 seeds, 18 runs at a
#: time; on an H200 with 16 cores 18 concurrent runs took 0.16-0.20 s/iter
#: each (CPU-bound: data loading and launch overhead), so 54 runs of 500
#: iterations take 3 waves of ~2 min (~7.3 min with set-up and report; no
#: run starts after 6.5 min, runs still going at 7.5 min are stopped).
PROTOCOLS = dict(
    cpu=dict(scale=0.5, crop=(256, 256), stride=(170, 170), batch=4,
             width=16, unet_width=8, iters=900, val_interval=300,
             seeds=(0, 1), jobs=1, threads=2, workers=1, deadline_min=285.0,
             grace_min=15.0),
    gpu=dict(scale=0.5, crop=(256, 256), stride=(170, 170), batch=8,
             width=16, unet_width=8, iters=500, val_interval=250,
             seeds=(0, 1, 2), jobs=18, threads=1, workers=1,
             deadline_min=6.5, grace_min=1.0))


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
# models
# ---------------------------------------------------------------------------
def _mmseg_model(rel: str) -> dict:
    from mmengine.config import Config
    from mmengine.utils import get_installed_path
    path = osp.join(get_installed_path('mmseg'), '.mim', 'configs', '_base_',
                    'models', rel)
    return copy.deepcopy(Config.fromfile(path).model.to_dict())


def _resnet18(model: dict, width: int) -> None:
    model['backbone'].update(depth=18, stem_channels=width,
                             base_channels=width)


def arch_model(arch: str, width: int, crop: Tuple[int, int],
               stride: Tuple[int, int],
               num_classes: int = NUM_CLASSES) -> dict:
    """An MMSeg base model, width-reduced for the study.

    MMSeg's own ``_base_/models`` config of each architecture with:
    ResNetV1c-18 (BasicBlock) at ``width`` base channels, i.e. stage widths
    ``width * (1, 2, 4, 8)`` (``width=64`` is the standard ResNet-18) for
    the ResNet models, and heads scaled with their input (PSP/ASPP/
    DepthwiseSeparableASPP ``2*width`` channels, DeepLabV3+ low-level
    branch ``width/2``, FPN neck ``4*width`` and head ``2*width``, UPerNet
    ``4*width``, FCN auxiliary heads ``width``); UNet-S5-D16 at ``width``
    base channels (MMSeg: 64) with its FCN head at ``width`` and auxiliary
    head at ``width``. BN instead of SyncBN, no pretrained weights,
    sliding-window test at the crop.

    Args:
        arch: One of :data:`ARCHS`.
        width: Base channels.
        crop: ``(H, W)`` training crop = sliding window.
        stride: ``(H, W)`` sliding-window stride.
        num_classes: Classes.
    """
    w = width
    if arch == 'unet':
        model = _mmseg_model('fcn_unet_s5-d16.py')
        model['backbone']['base_channels'] = w
        model['decode_head'].update(in_channels=w, channels=w)
        model['auxiliary_head'].update(in_channels=2 * w, channels=w)
    elif arch in ('pspnet', 'deeplabv3', 'deeplabv3plus'):
        model = _mmseg_model(f'{arch}_r50-d8.py')
        _resnet18(model, w)
        model['decode_head'].update(in_channels=8 * w, channels=2 * w)
        if arch == 'deeplabv3plus':
            model['decode_head'].update(c1_in_channels=w,
                                        c1_channels=max(w // 2, 4))
        model['auxiliary_head'].update(in_channels=4 * w, channels=w)
    elif arch == 'fpn':
        model = _mmseg_model('fpn_r50.py')
        _resnet18(model, w)
        model['neck'].update(in_channels=[w, 2 * w, 4 * w, 8 * w],
                             out_channels=4 * w)
        model['decode_head'].update(in_channels=[4 * w] * 4, channels=2 * w)
    elif arch == 'upernet':
        model = _mmseg_model('upernet_r50.py')
        _resnet18(model, w)
        model['decode_head'].update(in_channels=[w, 2 * w, 4 * w, 8 * w],
                                    channels=4 * w)
        model['auxiliary_head'].update(in_channels=4 * w, channels=w)
    else:
        raise ValueError(f'unknown architecture {arch!r}; choose from '
                         f'{ARCHS}')
    model['_scope_'] = 'mmseg'
    model['pretrained'] = None
    model['data_preprocessor']['size'] = tuple(crop)
    model['decode_head']['num_classes'] = num_classes
    if 'auxiliary_head' in model:
        model['auxiliary_head']['num_classes'] = num_classes
    model['test_cfg'] = dict(mode='slide', crop_size=tuple(crop),
                             stride=tuple(stride))
    return common._bn(model)


def sd_distiller(arch: str, args) -> dict:
    """``AxialSelfDistiller`` config: package defaults plus ``--sd-*``."""
    from mmseg_attnkd.models.distillers.axial_self_distiller import (
        DEFAULT_MSE, DEFAULT_TEACHER_CE)
    axial = dict(stride=AXIAL_STRIDE.get(arch, 1))
    if args.sd_unet_stride is not None and arch == 'unet':
        axial['stride'] = args.sd_unet_stride
    # span covers the training logits (the axis the block attends on)
    side = max(args.crop) // LOGIT_STRIDE[arch]
    needed = math.ceil(side / axial['stride'])
    axial['span'] = args.sd_span or max(64, needed)
    for key, value in (('channels', args.sd_channels),
                       ('num_heads', args.sd_heads),
                       ('long_axis', args.sd_long_axis)):
        if value is not None:
            axial[key] = value
    if args.sd_detach_input:
        axial['detach_input'] = True
    teacher_ce = dict(DEFAULT_TEACHER_CE)
    if args.sd_ce_weight is not None:
        teacher_ce['loss_weight'] = args.sd_ce_weight
    mse = dict(DEFAULT_MSE)
    if args.sd_mse_weight is not None:
        mse['loss_weight'] = args.sd_mse_weight
    if args.sd_mse_target is not None:
        mse['target'] = args.sd_mse_target
    if args.sd_no_detach_teacher:
        mse['detach_teacher'] = False
    return dict(type='AxialSelfDistiller', axial=axial,
                teacher_ce=teacher_ce, mse=mse)


#: Whether the CamVid protocol (bench/accuracy.py) has decided the axial-SD
#: defaults that this study uses; the report says which it is. Decided on
#: val: the MSE on probabilities at weight 1 (the package default); the
#: MSE on logits diverged on both ablation seeds.
SD_DEFAULTS_DECIDED = True
#: Largest test-mIoU gap (points) between the exported teacher-output model
#: and the val loop's teacher output that still counts as equal (float
#: summation order only).
EXPORT_TOL = 0.01

_SD_FLAGS = ('sd_span', 'sd_channels', 'sd_heads', 'sd_long_axis',
             'sd_unet_stride', 'sd_ce_weight', 'sd_mse_weight',
             'sd_mse_target')
_SD_SWITCHES = ('sd_detach_input', 'sd_no_detach_teacher')


def sd_settings_text(args) -> str:
    """The SD loss settings of the study, every one spelled out, and where
    they come from (package defaults or ``--sd-*`` options)."""
    distiller = sd_distiller('pspnet', args)
    mse, ce = distiller['mse'], distiller['teacher_ce']
    target = 'probabilities' if mse.get('target', 'prob') == 'prob' \
        else 'logits'
    text = (f'MSE on {target}, weight {mse.get("loss_weight", 1.0):g}, '
            f'teacher CE weight {ce.get("loss_weight", 1.0):g}, '
            f'detach_input {bool(distiller["axial"].get("detach_input"))}, '
            f'detach_teacher {mse.get("detach_teacher", True)}')
    changed = [f'--{k.replace("_", "-")}' for k in _SD_FLAGS
               if getattr(args, k, None) is not None]
    changed += [f'--{k.replace("_", "-")}' for k in _SD_SWITCHES
                if getattr(args, k, False)]
    if changed:
        return text + f' (set by {", ".join(changed)})'
    return text + (
        ' (the package defaults, as decided by the CamVid protocol)'
        if SD_DEFAULTS_DECIDED else
        ' (the package defaults of this commit; the CamVid protocol had '
        'not yet decided the axial-SD defaults)')


def arm_model(arch: str, arm: str, args) -> dict:
    """Model config of one arm (all arms share the student config)."""
    width = args.unet_width if arch == 'unet' else args.width
    student = arch_model(arch, width, args.crop, args.stride)
    if arm == 'baseline':
        return student
    if arm == 'ce2':
        student['decode_head']['loss_decode']['loss_weight'] *= 2
        return student
    if arm == 'sd':
        return dict(_scope_='mmrazor', type='SegSelfDistill',
                    architecture=student,
                    distiller=sd_distiller(arch, args))
    raise ValueError(f'unknown arm {arm!r}; choose from {ARMS}')


def build(cfg: dict):
    """Build a model config as the Runner does (a ``ConfigDict``, so the
    segmentor's ``test_cfg.mode`` works) with ``init_weights``."""
    from mmengine.config import ConfigDict
    return common.build_model(ConfigDict(cfg))


def teacher_output_model(arch: str, args) -> dict:
    """The exported teacher-output model config (``AxialRefineHead``)."""
    from mmseg_attnkd.utils import axial_refine_model_cfg
    model = arm_model(arch, 'sd', args)
    axial = {k: v for k, v in model['distiller']['axial'].items()
             if k != 'detach_input'}
    axial['in_channels'] = NUM_CLASSES
    return axial_refine_model_cfg(model['architecture'], 'decode_head', axial)


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
            optimizer=dict(type='SGD', lr=args.lr, momentum=0.9,
                           weight_decay=5e-4)),
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


def run_seconds(result: dict) -> float:
    """Seconds a finished run took: its last training segment's wall time,
    or, if it was resumed, the logged iteration seconds of all segments
    when larger, plus the final evaluation."""
    return (max(result.get('train_wall_s', 0),
                result.get('train_logged_s', 0)) +
            result.get('eval_wall_s', 0))


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
                threads=args.threads,
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


def run_all(args, data_dir: str) -> Tuple[List[dict], List[str], List[str]]:
    """Run every pending (arch, arm, seed), ``--jobs`` at a time.

    Returns:
        tuple: finished results, failed runs, runs not started or stopped
        at the deadline.
    """
    runs = [(arch, arm, seed) for seed in args.seeds for arch in args.archs
            for arm in args.arms]
    results, pending = [], []
    for arch, arm, seed in runs:
        work_dir = run_dir(args, arch, arm, seed)
        done = _load_result(
            work_dir, run_config_sha(arch, arm, seed, args, data_dir))
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


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------
def _ms(vals: Sequence[float]) -> str:
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    if not vals:
        return '-'
    if len(vals) == 1:
        return f'{vals[0]:.2f}'
    return f'{statistics.mean(vals):.2f} +- {statistics.stdev(vals):.2f}'


def _signed(vals: Sequence[float]) -> str:
    vals = [v for v in vals if v is not None and math.isfinite(v)]
    if not vals:
        return '-'
    text = f'{statistics.mean(vals):+.2f}'
    return text + (f' +- {statistics.stdev(vals):.2f}' if len(vals) > 1
                   else '')


def inference_mode(results: List[dict]) -> Tuple[str, Optional[float]]:
    """The test-time mode val prefers, and by how much.

    Returns:
        tuple: ``'slide'`` or ``'whole'``, and the mean over architectures
        and outputs of (slide - whole) final val mIoU (None without val
        scores; then the models' own mode, ``'slide'``). Ties keep slide.
    """
    per = {}
    for r in results:
        val = r.get('val_final', {})
        for key in ('mIoU', TEACHER_KEY):
            a, b = (val.get(m, {}).get(key) for m in INFERENCE_MODES)
            if a is not None and b is not None and math.isfinite(a - b):
                per.setdefault((r['arch'], key), []).append(a - b)
    if not per:
        return 'slide', None
    diff = statistics.mean(statistics.mean(v) for v in per.values())
    return ('slide' if diff >= 0 else 'whole'), diff


def _test_scores(r: dict, mode: str) -> dict:
    """Test metrics of a result in ``mode``."""
    return r.get('test_by_mode', {}).get(mode, {})


def summarize(results: List[dict], mode: str = 'slide') -> dict:
    """Per architecture: test mIoU per arm/output (inference ``mode``) and
    paired deltas."""
    by = {}
    for r in results:
        by.setdefault(r['arch'], {}).setdefault(r['arm'], {})[r['seed']] = r
    out = {}
    for arch in ARCHS:
        if arch not in by:
            continue
        runs = by[arch]

        def score(arm, key='mIoU'):
            return {s: _test_scores(r, mode)[key]
                    for s, r in runs.get(arm, {}).items()
                    if key in _test_scores(r, mode)}

        base, ce2 = score('baseline'), score('ce2')
        stu, tea = score('sd'), score('sd', TEACHER_KEY)

        def paired(a, b):
            return [a[s] - b[s] for s in sorted(set(a) & set(b))]

        val = {}
        for val_mode in INFERENCE_MODES:  # not `mode`: score() reads that
            for output, key in (('student', 'mIoU'),
                                ('teacher', TEACHER_KEY)):
                vals = [r['val_final'][val_mode][key]
                        for arm_runs in runs.values()
                        for r in arm_runs.values()
                        if key in r.get('val_final', {}).get(val_mode, {})]
                val[f'{output}_{val_mode}'] = vals
        export_gap = [abs(r['test'][TEACHER_KEY] -
                          r['test_export_teacher_mIoU'])
                      for r in runs.get('sd', {}).values()
                      if 'test_export_teacher_mIoU' in r]
        out[arch] = dict(
            baseline=base, ce2=ce2, sd_student=stu, sd_teacher=tea,
            d_student=paired(stu, base), d_teacher=paired(tea, base),
            d_teacher_student=paired(tea, stu), d_student_ce2=paired(stu, ce2),
            d_ce2=paired(ce2, base), val=val,
            export_max_gap=max(export_gap) if export_gap else None,
            sec_per_iter={arm: statistics.median(
                [r['sec_per_iter'] for r in rs.values()
                 if r.get('sec_per_iter')] or [float('nan')])
                for arm, rs in runs.items()},
            wall_s=sum(run_seconds(r)
                       for rs in runs.values() for r in rs.values()))
    return out


def _wins(summary: dict, key: str,
          strict: bool = False) -> Tuple[int, int, int, int, int]:
    """Count architectures by their paired deltas (one list per arch).

    Returns:
        tuple: architectures whose mean delta wins (``> 0`` if ``strict``,
        else ``>= 0``), those with a delta, the fewest paired seeds behind
        one of them, and those whose 95% paired t-interval lies wholly above
        0 / wholly below 0 (differences beyond seed noise; 2+ seeds).
    """
    decided = [s[key] for s in summary.values() if s[key]]
    wins = sum((statistics.mean(d) > 0) if strict else
               (statistics.mean(d) >= 0) for d in decided)
    bounds = [stats.t_interval(d)[1:] for d in decided if len(d) > 1]
    above = sum(low > 0 for low, _ in bounds)
    below = sum(high < 0 for _, high in bounds)
    return (wins, len(decided), min((len(d) for d in decided), default=0),
            above, below)


def target_lines(summary: dict) -> List[str]:
    def verdict(ok):
        return 'met' if ok else 'missed'

    lines = []
    n_arch = len(ARCHS)
    for key, text, need, strict in (
            ('d_student', 'SD student output >= baseline', 4, False),
            ('d_teacher_student', 'teacher output >= student output', 5,
             False),
            ('d_student_ce2', 'SD student output > doubled-CE control', 4,
             True)):
        wins, decided, seeds, above, below = _wins(summary, key, strict)
        status = verdict(wins >= need) if decided == n_arch else \
            f'undecided, {decided} of {n_arch} architectures finished'
        if decided and seeds < 2:
            status += '; some architectures on 1 paired seed only'
        # the target counts signs of mean deltas; say how many of them are
        # larger than the seed-to-seed noise
        lines.append(f'{text}: {wins} of {decided} (target >= {need} of '
                     f'{n_arch}: {status}); beyond seed noise (95% paired '
                     f't-interval excludes 0): {above} better, {below} '
                     'worse')
    psp = summary.get('pspnet')
    if psp and psp['d_student'] and psp['d_teacher']:
        ds, dt = (statistics.mean(psp['d_student']),
                  statistics.mean(psp['d_teacher']))
        loses = ds < 0 and dt < 0
        lines.append(
            f'PSPNet loses as in the source (source {-1.32:+.2f} / '
            f'{-1.27:+.2f}): {"yes" if loses else "no"} (ours {ds:+.2f} / '
            f'{dt:+.2f})')
    return lines


def aggregate(results: List[dict], costs: Dict[str, dict], args,
              info: dict, extra: dict) -> str:
    mode, slide_minus_whole = inference_mode(results)
    summary = summarize(results, mode)
    h, w = args.crop
    dev = info.get('gpu') or 'CPU'
    rows, cost_rows, val_rows = [], [], []
    for arch, s in summary.items():
        src = SOURCE_DELTAS.get(arch)
        rows.append([
            ARCH_NAMES[arch], len(s['baseline']), _ms(list(
                s['baseline'].values())), _ms(list(s['ce2'].values())),
            _ms(list(s['sd_student'].values())),
            _ms(list(s['sd_teacher'].values())), _signed(s['d_student']),
            _signed(s['d_teacher']), _signed(s['d_ce2']),
            f'{src[0]:+.2f}' if src else '-',
            f'{src[1]:+.2f}' if src else '-'])
        c = costs.get(arch)
        if c:
            cost_rows.append([
                ARCH_NAMES[arch],
                f'{c["student"]["params"] / 1e6:.3f}',
                f'{c["teacher"]["params"] / 1e6:.3f}',
                f'{c["student"]["flops"] / 1e9:.3f}',
                f'{c["teacher"]["flops"] / 1e9:.3f}',
                f'{c["student"]["latency_ms"][mode]:.0f}',
                f'{c["teacher"]["latency_ms"][mode]:.0f}',
                ' / '.join(f'{s["sec_per_iter"][a]:.2f}'
                           if a in s['sec_per_iter'] else '-'
                           for a in ARMS)])
        v = s['val']
        val_rows.append([ARCH_NAMES[arch]] + [
            _ms(v[k]) for k in ('student_slide', 'student_whole',
                                'teacher_slide', 'teacher_whole')])
    unet_grid = AXIAL_STRIDE.get('unet', 1) if args.sd_unet_stride is None \
        else args.sd_unet_stride
    run_commits = sorted({c for r in results for c in r.get('commits', [])})
    mode_text = {'slide': 'sliding-window inference at the crop',
                 'whole': 'whole-section inference'}[mode]
    gaps = [s['export_max_gap'] for s in summary.values()
            if s['export_max_gap'] is not None]
    sd_axial = json.dumps(sd_distiller('pspnet', args)['axial'],
                          sort_keys=True)
    lines = [
        f'### Axial self-distillation on Drosophila ssTEM, {args.protocol} '
        f'protocol ({dev})', '',
        f'Machine: {common.machine_line(info)}. Runs trained at commit(s) '
        f'{", ".join(run_commits) or "unrecorded"}; report written at '
        f'{extra["commit"]}; '
        f'command `{extra["command"]}`; wall time of the finished runs '
        f'{extra["runs_wall_s"] / 3600:.2f} h (this invocation '
        f'{extra["wall_s"] / 60:.1f} min).', '',
        f'Sections 0-11 train, 12-15 val, 16-19 test at '
        f'{extra["image"][1]}x{extra["image"][0]} (1024x1024 scaled by '
        f'{extra["image"][1] / 1024:g}); {w}x{h} '
        f'crops, batch {args.batch}, {args.iters} iterations, SGD lr '
        f'{args.lr} poly; width-reduced models (base width {args.width}, '
        f'UNet {args.unet_width}; see `arch_model` in bench/sstem_study.py), '
        'from scratch, paired initial '
        f'weights per seed; {mode_text} (the mode val prefers, below); '
        f'test scored at the {args.select} checkpoint (chosen on val: '
        f'`--select {args.select}`). Axial SD: {sd_settings_text(args)}; '
        f'block `{sd_axial}` (PSPNet shown; UNet attends on a '
        f'{unet_grid}x pooled grid). '
        'Test mIoU in %, mean +- std over seeds; deltas are paired per seed '
        'against the baseline.', '',
        common.md_table(
            ['architecture', 'seeds', 'baseline', 'CE x2 control',
             'SD student', 'SD teacher', 'd student', 'd teacher', 'd CE x2',
             'source d student', 'source d teacher'], rows), '',
        'Targets (mean paired deltas over seeds):', ''
    ]
    lines += [f'* {t}' for t in target_lines(summary)]
    lines += [
        '', 'Source models without a counterpart here: ' + ', '.join(
            f'{k} {a:+.2f}/{b:+.2f}' for k, (a, b) in SOURCE_OTHER.items()),
        '', 'Cost: parameters of the inference model, FLOPs of one '
        f'{w}x{h} window (fvcore convention, 1 multiply-add = 1 FLOP), CPU '
        f'latency of one {extra["image"][1]}x{extra["image"][0]} section '
        f'with {mode_text} (median, '
        f'{args.latency_threads} threads, measured once per architecture '
        'after the runs and cached in the work root); training s/iter '
        '(median of the logged iterations, seed 0 ... n).', '',
        common.md_table(['architecture', 'params student (M)',
                         'params teacher (M)', 'GFLOPs student',
                         'GFLOPs teacher', 'latency student (ms)',
                         'latency teacher (ms)',
                         's/iter baseline / SD / CE x2'],
                        cost_rows), '',
        'Val mIoU at the final checkpoint, sliding window at the crop vs '
        'the whole section (logits larger than the training logits; the '
        'axial relative tables are interpolated):', '',
        common.md_table(['architecture', 'student slide (all arms)',
                         'student whole (all arms)', 'teacher slide',
                         'teacher whole'], val_rows), '',
        'Inference mode, chosen on val: '
        + (f'sliding window minus whole section = {slide_minus_whole:+.2f} '
           'val mIoU points (mean over architectures and outputs), so the '
           f'test numbers and latencies above use {mode_text}'
           + ('' if mode == 'slide' else
              '; the configs, which slide at the crop, should switch')
           + '.' if slide_minus_whole is not None else
           'no val scores; the models\' own sliding window is used.'),
        'Exported teacher-output model vs the teacher output of the val '
        'loop on test: max |difference| '
        + (f'{max(gaps):.2g} mIoU points ('
           + ('equal' if max(gaps) <= EXPORT_TOL else
              f'NOT equal: above {EXPORT_TOL:g}; the export is broken')
           + ').' if gaps else '- (no SD run).'),
    ]
    diverged = sorted(f'{r["arch"]} {r["arm"]} seed {r["seed"]}'
                      for r in results if r.get('diverged'))
    if diverged:
        lines += ['', 'Diverged (the last logged training loss not finite or '
                  'above 10x its smallest; their scores are in the tables): '
                  + ', '.join(diverged) + '.']
    if extra.get('failed') or extra.get('stopped'):
        lines += ['', f'Unfinished: failed {extra.get("failed") or "none"}; '
                  f'not run or stopped at the deadline '
                  f'{extra.get("stopped") or "none"}.']
    return '\n'.join(lines)


def plot(results: List[dict], path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    summary = summarize(results, inference_mode(results)[0])
    archs = [a for a in ARCHS if a in summary]
    series = [('d_student', 'SD student (ours)', 'tab:blue', None),
              ('d_teacher', 'SD teacher (ours)', 'tab:orange', None),
              ('d_ce2', 'CE x2 control (ours)', 'tab:gray', None),
              ('src_student', 'SD student (source)', 'tab:blue', '//'),
              ('src_teacher', 'SD teacher (source)', 'tab:orange', '//')]
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.16
    for i, (key, label, color, hatch) in enumerate(series):
        xs, ys, errs = [], [], []
        for j, arch in enumerate(archs):
            if key.startswith('src_'):
                src = SOURCE_DELTAS.get(arch)
                if not src:
                    continue
                val, err = src[0 if key == 'src_student' else 1], 0.0
            else:
                vals = summary[arch][key]
                if not vals:
                    continue
                val = statistics.mean(vals)
                err = statistics.stdev(vals) if len(vals) > 1 else 0.0
            xs.append(j + (i - 2) * width)
            ys.append(val)
            errs.append(err)
        ax.bar(xs, ys, width, yerr=errs, color=color, label=label,
               hatch=hatch, alpha=0.55 if hatch else 0.9,
               edgecolor='k' if hatch else None, capsize=2)
    ax.axhline(0, color='k', linewidth=0.8)
    ax.set_xticks(range(len(archs)))
    ax.set_xticklabels([ARCH_NAMES[a] for a in archs], fontsize=8)
    ax.set_ylabel('test mIoU delta vs baseline (points)')
    ax.set_title('Axial self-distillation on Drosophila ssTEM: ours '
                 '(mean +- std over seeds) and the source')
    ax.grid(axis='y', alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(osp.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


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
                    optimizer=dict(type='SGD', lr=0.01, momentum=0.9)))
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
        + (f'; with 2 threads at an assumed 1.5x speed-up: '
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
    parser.add_argument('--lr', type=float, default=0.01)
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
                'unet_width'):
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
