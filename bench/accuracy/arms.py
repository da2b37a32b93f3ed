# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Protocols and arms of the CamVid accuracy benchmark (``accuracy.py``).

A protocol fixes data, models and schedule; an arm is one way of training
the student. Every model is the file of its arm in ``configs/camvid240/``
(``bench/camvid/arms.py``) at the protocol's widths and crop; settings of
the two methods are plain dicts written over the file's distiller, so that
ablation arms, the defaults chosen on val and the main table share one
file.
"""
import copy
import math
import os.path as osp
from typing import Dict, List, Optional, Tuple

from bench.camvid import arms as camvid_arms
from bench.lib import common
from bench.lib.common import with_width

NUM_CLASSES = 11

#: Data, models and schedule of each protocol (see bench/README.md).
PROTOCOLS = dict(
    cpu=dict(
        device='2 CPU cores', scale=0.5, crop=(180, 240), batch=8,
        student=dict(width=16, output_stride=16),
        teacher=dict(width=32, output_stride=8),
        iters=2000, teacher_iters=6000, fit_iters=500, val_interval=250,
        lr=0.05, warmup=100, workers=1, seeds=(0, 1, 2),
        ablation_seeds=(0, 1), grid='small',
        # the axial block on a 2x average-pooled grid of the 45x60 logits:
        # at stride 1 one SD step costs several student steps on 2 cores
        axial=dict(stride=2)),
    # sized for a few minutes on one GPU with 16 CPU cores, many runs at a
    # time (--jobs): a shorter schedule and the small ablation grid
    gpu=dict(
        device='one GPU', scale=0.5, crop=(180, 240), batch=8,
        student=dict(width=16, output_stride=16),
        teacher=dict(width=64, output_stride=8),
        iters=800, teacher_iters=1500, fit_iters=150, val_interval=200,
        lr=0.05, warmup=100, workers=1, teacher_workers=8, seeds=(0, 1, 2),
        ablation_seeds=(0, 1), grid='small'),
)

#: AttnFD settings of the ``attnfd`` arm (the package defaults unless the
#: command line or a val-based choice overrides them).
ATTNFD_DEFAULT = dict(teacher_attention='fitted', normalize='tensor',
                      loss_weight=8.0, spatial_norm=False)
#: Axial-SD settings of the ``sd`` arm.
SD_DEFAULT = dict(target='prob', mse_weight=1.0, detach_input=False)

#: AttnFD ablation grid: teacher attention x normalisation at the middle
#: weight; weights swept per normalisation with fitted attention; the
#: spatial BN of the original CBAM with fitted attention.
ATTNFD_WEIGHTS = dict(channel=(0.5, 2.0, 8.0), tensor=(2.0, 8.0, 32.0))
#: Axial-SD ablation grid: MSE on probabilities or logits, two weights.
SD_GRID = (dict(target='prob', mse_weight=1.0),
           dict(target='prob', mse_weight=10.0),
           dict(target='logits', mse_weight=0.1),
           dict(target='logits', mse_weight=1.0))

MAIN_ARMS = ('baseline', 'baseline_2x', 'ce2', 'kd', 'cwd', 'attnfd', 'sd',
             'sd_detach', 'attnfd_sd')
#: Main arms whose settings come from the val-based choice.
CHOICE_ARMS = ('attnfd', 'sd', 'sd_detach', 'attnfd_sd')
#: MMRazor's feature and logit losses through the stage distiller (one seed).
EXTRA_ARMS = ('at', 'ofd', 'mgd', 'pkd', 'dist')


def extra_distiller(arm: str) -> dict:
    """The ``StageDistiller`` of ``configs/feature_kd/<arm>_*.py``, each loss
    wrapped in ``ResizedStudentLoss`` (the student's output stride is 16,
    the teacher's 8, so some student maps are smaller)."""
    import glob
    path, = glob.glob(osp.join(common.REPO_ROOT, 'configs', 'feature_kd',
                               f'{arm}_*.py'))
    distiller = common.config_model(path)['distiller']
    losses = distiller['loss']
    wrap = [dict(type='ResizedStudentLoss', loss=loss) for loss in (
        losses if isinstance(losses, list) else [losses])]
    distiller['loss'] = wrap if isinstance(losses, list) else wrap[0]
    return distiller


def attnfd_name(s: Dict) -> str:
    """Arm name of AttnFD settings, e.g. ``attnfd_fitted_channel_w2_bn``."""
    ta = dict(parameter_free='pfree').get(s['teacher_attention'],
                                          s['teacher_attention'])
    bn = '_bn' if s.get('spatial_norm') else ''
    return f'attnfd_{ta}_{s["normalize"]}_w{s["loss_weight"]:g}{bn}'


def sd_name(s: Dict) -> str:
    """Arm name of axial-SD settings, e.g. ``sd_logits_w0.1``."""
    det = '_detach' if s.get('detach_input') else ''
    return f'sd_{s["target"]}_w{s["mse_weight"]:g}{det}'


def attnfd_ablation(size: str = 'full') -> List[Dict]:
    """AttnFD settings of the ablation (each is one arm).

    ``'full'``: teacher attention x normalisation at the middle weight, the
    weight swept per normalisation and the spatial BN, both with fitted
    attention (12 settings). ``'small'``: the teacher attentions and the
    weights with channel normalisation, the spatial BN, and fitted
    attention with tensor normalisation (7 settings).
    """
    if size == 'small':
        mid = ATTNFD_WEIGHTS['channel'][1]
        base = dict(teacher_attention='fitted', normalize='channel',
                    loss_weight=mid, spatial_norm=False)
        grid = [dict(base, teacher_attention=ta)
                for ta in ('fitted', 'random', 'parameter_free')]
        grid += [dict(base, loss_weight=w)
                 for w in (ATTNFD_WEIGHTS['channel'][0],
                           ATTNFD_WEIGHTS['channel'][2])]
        grid += [dict(base, spatial_norm=True),
                 dict(base, normalize='tensor',
                      loss_weight=ATTNFD_WEIGHTS['tensor'][1])]
        return grid
    grid = []
    for norm, weights in ATTNFD_WEIGHTS.items():
        mid = weights[1]
        for ta in ('fitted', 'random', 'parameter_free'):
            grid.append(dict(teacher_attention=ta, normalize=norm,
                             loss_weight=mid, spatial_norm=False))
        for w in (weights[0], weights[2]):
            grid.append(dict(teacher_attention='fitted', normalize=norm,
                             loss_weight=w, spatial_norm=False))
        grid.append(dict(teacher_attention='fitted', normalize=norm,
                         loss_weight=mid, spatial_norm=True))
    return grid


def sd_ablation(size: str = 'full') -> List[Dict]:
    """Axial-SD settings of the ablation (``'small'``: weight 1 only)."""
    grid = SD_GRID if size == 'full' else [
        s for s in SD_GRID if s['mse_weight'] == 1.0
    ]
    return [dict(s, detach_input=False) for s in grid]


def attnfd_grid() -> Dict[str, Dict]:
    """AttnFD ablation arm name -> settings (both grid sizes)."""
    return {attnfd_name(s): s for size in ('full', 'small')
            for s in attnfd_ablation(size)}


def sd_grid() -> Dict[str, Dict]:
    """Axial-SD ablation arm name -> settings."""
    return {sd_name(s): s for s in sd_ablation()}


def ablation_names(size: str = 'full') -> List[str]:
    """Arm names of every AttnFD and axial-SD ablation setting."""
    return [attnfd_name(s) for s in attnfd_ablation(size)] + \
        [sd_name(s) for s in sd_ablation(size)]


# ---------------------------------------------------------------------------
# model configs: the files of configs/camvid240/ (bench/camvid/arms.py) at
# the protocol's widths and crop, with the arm's method settings
# ---------------------------------------------------------------------------
#: The distillation pair of configs/camvid240/ without a method: the
#: MMRazor-loss arms without a file there take their distiller from
#: configs/feature_kd/ (:func:`extra_distiller`).
PAIR_CONFIG = '_base_distill_camvid240.py'


def config_arm(arm: str) -> Optional[str]:
    """The arm of ``configs/camvid240/`` whose file ``arm`` trains (its
    settings aside); None: the method-free pair :data:`PAIR_CONFIG`."""
    if arm in camvid_arms.ARMS:
        return arm
    if arm == 'sd_detach' or arm in sd_grid():
        return 'sd'
    if arm in attnfd_grid():
        return 'attnfd'
    if arm in EXTRA_ARMS:
        return None
    raise ValueError(f'unknown arm {arm!r}')


def config_model(arm: Optional[str]) -> dict:
    """The ``model`` of the ``configs/camvid240/`` file of a
    :func:`config_arm` (a fresh copy)."""
    name = camvid_arms.ARMS[arm] if arm else PAIR_CONFIG
    return common.config_model(osp.join(camvid_arms.CONFIG_DIR, name))


def at_protocol(model: dict, role: str, proto: Dict) -> dict:
    """The config's ``role`` model (``'student'`` or ``'teacher'``) at the
    protocol's width and crop, in place; its output stride must be the
    protocol's."""
    want = proto[role]
    stride = 4 * math.prod(model['backbone']['strides'])  # stem: 4
    if stride != want['output_stride']:
        raise ValueError(f'the {role} config has output stride {stride}, '
                         f'the protocol {want["output_stride"]}')
    with_width(model, want['width'])
    model['data_preprocessor']['size'] = tuple(proto['crop'])
    return model


def student_cfg(proto: Dict) -> dict:
    return at_protocol(config_model('baseline'), 'student', proto)


def teacher_cfg(proto: Dict) -> dict:
    return at_protocol(config_model('teacher'), 'teacher', proto)


def with_init(student: dict, init_path: Optional[str]) -> dict:
    """The student loading its paired initial weights in ``init_weights``."""
    student = copy.deepcopy(student)
    if init_path:
        student['init_cfg'] = dict(type='Pretrained', checkpoint=init_path)
    return student


def protocol_model(arm: Optional[str], proto: Dict, init_path: Optional[str],
                   teacher_ckpt: Optional[str]) -> dict:
    """The model of a :func:`config_arm`'s file at the protocol: the
    student (``architecture`` of a distillation) with its paired initial
    weights, the teacher reading ``teacher_ckpt``."""
    model = config_model(arm)
    if 'architecture' not in model:
        return with_init(at_protocol(model, 'student', proto), init_path)
    model['architecture'] = with_init(
        at_protocol(model['architecture'], 'student', proto), init_path)
    if 'teacher' in model:
        at_protocol(model['teacher'], 'teacher', proto)
        model['teacher_ckpt'] = teacher_ckpt
    return model


def attnfd_distiller(s: Dict, fitted_ckpt: Optional[str],
                     distiller: dict) -> dict:
    """The config's AttnFD ``distiller`` with settings ``s`` written out
    (the fitted file only for fitted teacher attention)."""
    d = dict(distiller, stages='auto',
             teacher_attention=s['teacher_attention'],
             normalize=s['normalize'], loss_weight=s['loss_weight'],
             spatial_norm=s.get('spatial_norm', False))
    d.pop('teacher_attention_ckpt', None)
    if s['teacher_attention'] == 'fitted':
        d['teacher_attention_ckpt'] = fitted_ckpt
    return d


def sd_distiller(s: Dict, axial: Optional[Dict], distiller: dict) -> dict:
    """The config's axial-SD ``distiller`` with settings ``s``; ``axial``:
    block options of the protocol (e.g. ``stride``), in place of the
    file's."""
    return dict(
        distiller,
        axial=dict(axial or {},
                   detach_input=bool(s.get('detach_input', False))),
        mse=dict(type='SelfDistillMSELoss', loss_weight=s['mse_weight'],
                 target=s['target'], detach_teacher=True))


def arm_model(arm: str, proto: Dict, init_path: Optional[str],
              teacher_ckpt: Optional[str],
              fitted: Dict[bool, Optional[str]],
              attnfd: Dict = ATTNFD_DEFAULT,
              sd: Dict = SD_DEFAULT) -> Tuple[dict, int]:
    """Model config and iteration factor of an arm: its
    ``configs/camvid240/`` file (:func:`config_arm`) at the protocol, with
    the arm's AttnFD/SD settings.

    Args:
        arm: A name of :data:`MAIN_ARMS` or :data:`EXTRA_ARMS`, an
            ablation name
            (:func:`attnfd_name`/:func:`sd_name`) or ``'teacher'``.
        proto: Protocol dict.
        init_path: Paired initial student weights of the seed.
        teacher_ckpt: Trained teacher checkpoint.
        fitted: Fitted teacher-attention files, keyed by ``spatial_norm``.
        attnfd: Settings of the ``attnfd`` and ``attnfd_sd`` arms.
        sd: Settings of the ``sd``, ``sd_detach`` and ``attnfd_sd`` arms.

    Returns:
        tuple: model dict, multiple of the protocol's iterations.
    """
    if arm == 'teacher':
        return teacher_cfg(proto), 1
    base = config_arm(arm)
    model = protocol_model(base, proto, init_path, teacher_ckpt)
    if base is None:
        model['distiller'] = extra_distiller(arm)
    if base in ('attnfd', 'attnfd_sd'):
        s = attnfd_grid().get(arm, attnfd)
        model['distiller'] = attnfd_distiller(
            s, fitted.get(bool(s.get('spatial_norm', False))),
            model['distiller'])
    if base in ('sd', 'attnfd_sd'):
        s = sd_grid().get(arm, dict(sd, detach_input=arm == 'sd_detach'))
        model['distiller'] = sd_distiller(s, proto.get('axial'),
                                          model['distiller'])
    return model, 2 if arm == 'baseline_2x' else 1


def fit_model(proto: Dict, teacher_ckpt: str, spatial_norm: bool) -> dict:
    """The AttnFD distillation whose teacher attention is fitted."""
    # the fit uses the stages and CBAM options only; the loss settings stay
    # fixed so that its cache key does not move with the defaults
    s = dict(teacher_attention='random', normalize='channel',
             loss_weight=2.0, spatial_norm=spatial_norm)
    model = protocol_model('attnfd', proto, None, teacher_ckpt)
    model['distiller'] = attnfd_distiller(s, None, model['distiller'])
    return model


def has_axial_output(arm: str) -> bool:
    """Whether the arm's checkpoint also holds an axial teacher output."""
    return arm.startswith('sd') or arm == 'attnfd_sd'
