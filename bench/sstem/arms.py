# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The ssTEM study's architectures, arms and protocols (bench/sstem/run.py).

Every model the study trains is a config file of ``configs/sstem256/``
(:data:`CONFIGS`: six width-reduced MMSeg architectures, each with the
three arms ``baseline``, ``sd`` and ``ce2`` on one shared student); this
module reads them, applies the command line's options (width, crop,
``--sd-*``), derives the exported teacher-output model and holds the
source's published deltas that the report sets beside ours.
"""
import copy
import functools
import math
import os.path as osp
from typing import Tuple

from bench.lib import common
from bench.lib.common import with_width


NUM_CLASSES = 5
#: Architectures, in report order, with the name used by the source.
ARCHS = ('unet', 'pspnet', 'deeplabv3', 'deeplabv3plus', 'fpn', 'upernet')
ARCH_NAMES = dict(unet='UNet-S5-D16 + FCN', pspnet='PSPNet',
                  deeplabv3='DeepLabV3', deeplabv3plus='DeepLabV3+',
                  fpn='Semantic FPN', upernet='UPerNet')
ARMS = ('baseline', 'sd', 'ce2')
#: Output stride of the logits (the axial block's pooling stride is in
#: the SD configs: 4 for UNet, 1 for the others).
LOGIT_STRIDE = dict(unet=1, pspnet=8, deeplabv3=8, deeplabv3plus=4, fpn=4,
                    upernet=4)
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

#: Protocols: the schedule of the config files (``configs/sstem256/``,
#: the cpu protocol's) and what the study changes in it. ``scale``: section
#: resize at conversion (1024 -> 512); ``crop``: training crop = sliding
#: window; ``width``/``unet_width``: base channels of the width-reduced
#: models (the configs'; see :func:`with_width`).
#: Sized from measured step times (bench/results/sstem_steptimes_*.md)
#: and a pilot (bench/README.md, ssTEM study): SGD at lr 0.01 left the
#: baselines predicting two or three of the five classes after 900
#: iterations; at lr 0.05 a PSPNet baseline reached 42 val mIoU at 1200
#: iterations and was still rising. cpu: 1400 iterations, two runs at a
#: time with one thread each (on 2 cores a second thread gave 1.6x, a
#: second run 2x), ~4.7 h for 2 seeds; the deadline stops new runs at
#: 4 h 45 and the next invocation goes on. gpu: the same models and crops,
#: twice the batch, 3 seeds, 18 runs at a time; on an H200 with 16 cores
#: 18 concurrent runs took 0.16-0.20 s/iter each (CPU-bound: data loading
#: and launch overhead), so 54 runs of 500 iterations take 3 waves of
#: ~2 min (~7.3 min with set-up and report; no run starts after 6.5 min,
#: runs still going at 7.5 min are stopped).
PROTOCOLS = dict(
    cpu=dict(scale=0.5, crop=(256, 256), stride=(170, 170), batch=4,
             width=16, unet_width=8, iters=1400, val_interval=350,
             seeds=(0, 1), jobs=2, threads=1, workers=1, deadline_min=285.0,
             optimizer='sgd', lr=0.05,
             grace_min=15.0),
    gpu=dict(scale=0.5, crop=(256, 256), stride=(170, 170), batch=8,
             width=16, unet_width=8, iters=500, val_interval=250,
             seeds=(0, 1, 2), jobs=18, threads=1, workers=1,
             optimizer='sgd', lr=0.05,
             deadline_min=6.5, grace_min=1.0))



# ---------------------------------------------------------------------------
# models: the config files of configs/sstem256/
# ---------------------------------------------------------------------------
CONFIG_DIR = 'configs/sstem256'
#: Architecture -> the model part of its config names.
CONFIG_STEMS = dict(unet='unet-s5-d16-w8_fcn', pspnet='pspnet_r18-w16-d8',
                    deeplabv3='deeplabv3_r18-w16-d8',
                    deeplabv3plus='deeplabv3plus_r18-w16-d8',
                    fpn='fpn_r18-w16', upernet='upernet_r18-w16')
_ARM_PREFIX = dict(baseline='', sd='axial-sd_', ce2='ce2_')
_SCHEDULE = '1xb4-1.4k_drosophila-sstem-256x256'
#: (architecture, arm) -> its config file (in CONFIG_DIR).
CONFIGS = {(arch, arm): f'{_ARM_PREFIX[arm]}{CONFIG_STEMS[arch]}_'
           f'{_SCHEDULE}.py' for arch in ARCHS for arm in ARMS}
#: The file with the data, schedule and runtime every config shares.
BASE_CONFIG = '_base_sstem256.py'


def config_path(arch: str, arm: str) -> str:
    """Absolute path of the config of ``arch`` and ``arm``."""
    if (arch, arm) not in CONFIGS:
        raise ValueError(f'unknown architecture/arm {arch!r}/{arm!r}; '
                         f'choose from {ARCHS} and {ARMS}')
    return osp.join(common.REPO_ROOT, CONFIG_DIR, CONFIGS[(arch, arm)])


@functools.lru_cache(maxsize=None)
def _load(path: str) -> dict:
    from mmengine.config import Config
    return Config.fromfile(path).to_dict()


def arm_config(arch: str, arm: str) -> dict:
    """The config of ``arch`` and ``arm`` as a dict (a fresh copy)."""
    return copy.deepcopy(_load(config_path(arch, arm)))


def base_config() -> dict:
    """The shared data, schedule and runtime (a fresh copy)."""
    return copy.deepcopy(_load(osp.join(common.REPO_ROOT, CONFIG_DIR,
                                        BASE_CONFIG)))


def with_crop(model: dict, crop: Tuple[int, int],
              stride: Tuple[int, int]) -> dict:
    """The plain model padding to ``crop`` and sliding a ``crop`` window at
    ``stride`` at test (the training crop), in place."""
    model['data_preprocessor']['size'] = tuple(crop)
    model['test_cfg'] = dict(mode='slide', crop_size=tuple(crop),
                             stride=tuple(stride))
    return model


def sd_distiller(arch: str, args) -> dict:
    """The ``AxialSelfDistiller`` of the architecture's SD config, every
    loss spelled out (the package defaults the config leaves out), with the
    ``--sd-*`` options; the span covers the training logits of the crop."""
    from mmseg_attnkd.models.distillers.axial_self_distiller import (
        DEFAULT_MSE, DEFAULT_TEACHER_CE)
    distiller = arm_config(arch, 'sd')['model']['distiller']
    axial = dict(distiller.get('axial') or {})
    if args.sd_unet_stride is not None and arch == 'unet':
        axial['stride'] = args.sd_unet_stride
    # span covers the training logits (the axis the block attends on)
    side = max(args.crop) // LOGIT_STRIDE[arch]
    needed = math.ceil(side / axial.get('stride', 1))
    axial['span'] = args.sd_span or max(axial['span'], needed)
    for key, value in (('channels', args.sd_channels),
                       ('num_heads', args.sd_heads),
                       ('long_axis', args.sd_long_axis)):
        if value is not None:
            axial[key] = value
    if args.sd_detach_input:
        axial['detach_input'] = True
    teacher_ce = dict(DEFAULT_TEACHER_CE, **distiller.get('teacher_ce', {}))
    if args.sd_ce_weight is not None:
        teacher_ce['loss_weight'] = args.sd_ce_weight
    mse = dict(DEFAULT_MSE, **distiller.get('mse', {}))
    if args.sd_mse_weight is not None:
        mse['loss_weight'] = args.sd_mse_weight
    if args.sd_mse_target is not None:
        mse['target'] = args.sd_mse_target
    if args.sd_no_detach_teacher:
        mse['detach_teacher'] = False
    return dict(distiller, axial=axial, teacher_ce=teacher_ce, mse=mse)


#: Whether the CamVid protocol (bench/accuracy/run.py) has decided the axial-SD
#: defaults that this study uses; the report says which it is. Decided on
#: val: the MSE on probabilities at weight 1 (the package default); the
#: MSE on logits diverged on both ablation seeds.
SD_DEFAULTS_DECIDED = True
_SD_FLAGS = ('sd_span', 'sd_channels', 'sd_heads', 'sd_long_axis',
             'sd_unet_stride', 'sd_ce_weight', 'sd_mse_weight',
             'sd_mse_target')
_SD_SWITCHES = ('sd_detach_input', 'sd_no_detach_teacher')


def sd_settings_text(args) -> str:
    """The SD loss settings of the study, every one spelled out, and where
    they come from (package defaults or ``--sd-*`` options)."""
    # the trained model's distiller: the --sd-v2 candidate applied
    distiller = arm_model('pspnet', 'sd', args)['distiller']
    mse, ce = distiller['mse'], distiller['teacher_ce']
    if str(mse.get('type', '')).endswith('KLLoss'):
        term = f'KL with temperature {mse.get("tau", 1.0):g}'
    else:
        term = 'MSE on ' + ('probabilities' if mse.get('target', 'prob')
                            == 'prob' else 'logits')
    text = (f'{term}, weight {mse.get("loss_weight", 1.0):g}, '
            f'teacher CE weight {ce.get("loss_weight", 1.0):g}, '
            f'detach_input {bool(distiller["axial"].get("detach_input"))}, '
            f'detach_teacher {mse.get("detach_teacher", True)}')
    changed = [f'--{k.replace("_", "-")}' for k in _SD_FLAGS
               if getattr(args, k, None) is not None]
    changed += [f'--{k.replace("_", "-")}' for k in _SD_SWITCHES
                if getattr(args, k, False)]
    if getattr(args, 'sd_v2', None):
        changed.append(f'--sd-v2 {args.sd_v2} '
                       f'({sd_v2_options()[args.sd_v2]})')
    if changed:
        return text + f' (set by {", ".join(changed)})'
    return text + (
        ' (the package defaults, as decided by the CamVid protocol)'
        if SD_DEFAULTS_DECIDED else
        ' (the package defaults of this commit; the CamVid protocol had '
        'not yet decided the axial-SD defaults)')


def arm_model(arch: str, arm: str, args) -> dict:
    """Model config of one arm: its config file's model, at ``--width`` /
    ``--unet-width`` and ``--crop`` (the configs' under the protocols),
    the SD distiller with the ``--sd-*`` options (all arms share the
    student)."""
    model = arm_config(arch, arm)['model']
    student = model['architecture'] if arm == 'sd' else model
    with_width(student, args.unet_width if arch == 'unet' else args.width)
    with_crop(student, args.crop, args.stride)
    if arm == 'sd':
        model['distiller'] = sd_distiller(arch, args)
        if getattr(args, 'sd_v2', None):
            apply_sd_v2(model, args.sd_v2)
    return model


def sd_v2_options() -> dict:
    """The axial SD v2 candidates of the CamVid study (``--sd-v2``): name
    -> ``--cfg-options`` of its ``sd`` config (one source for both
    studies, :data:`bench.camvid.arms.V2_ARMS`)."""
    from bench.camvid.arms import V2_ARMS
    return {name: options for name, (base, options) in V2_ARMS.items()
            if base == 'sd'}


def apply_sd_v2(model: dict, name: str) -> dict:
    """Set the options of the v2 candidate ``name`` in the ``sd`` arm's
    model dict, in place.

    Each option replaces the value at its key (``model.distiller.mse``
    becomes the candidate's loss): this study spells out every loss of the
    distiller, which a merge would mix with the new loss's arguments; the
    CamVid config leaves them out, so both studies train the same thing.
    """
    candidates = sd_v2_options()
    if name not in candidates:
        raise ValueError(f'--sd-v2 {name!r} is no axial SD v2 candidate; '
                         f'choose from {sorted(candidates)}')
    for key, value in candidates[name].items():
        path = key.split('.')
        if path[0] != 'model':
            raise ValueError(f'{name}: option {key} is not under model')
        node = model
        for part in path[1:-1]:
            node = node[part]
        node[path[-1]] = copy.deepcopy(value)
    return model


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
