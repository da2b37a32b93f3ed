# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Arms of the CamVid CPU study: one config file of ``configs/camvid240/``
each (adding a method to the study = adding its config and a line here)."""
import os.path as osp
from typing import Any, Dict, Tuple

__all__ = ['CONFIG_DIR', 'ARMS', 'V2_ARMS', 'config_path', 'arm_config']

CONFIG_DIR = 'configs/camvid240'
_PAIR = ('deeplabv3plus-r18-w32-d8_deeplabv3plus-r18-w16-d16_1xb8-2k_'
         'camvid-240x180.py')

#: arm -> config file; the names of bench/accuracy/arms.py.
ARMS: Dict[str, str] = {
    'teacher': 'deeplabv3plus_r18-w32-d8_1xb8-6k_camvid-240x180.py',
    'baseline': 'deeplabv3plus_r18-w16-d16_1xb8-2k_camvid-240x180.py',
    'baseline_2x': 'deeplabv3plus_r18-w16-d16_1xb8-4k_camvid-240x180.py',
    'ce2': 'ce2_deeplabv3plus_r18-w16-d16_1xb8-2k_camvid-240x180.py',
    'kd': 'kd_' + _PAIR,
    'cwd': 'cwd_' + _PAIR,
    'dist': 'dist_' + _PAIR,
    'attnfd': 'attnfd_' + _PAIR,
    'sd': 'axial-sd_deeplabv3plus-r18-w16-d16_1xb8-2k_camvid-240x180.py',
    'attnfd_sd': 'attnfd-axial-sd_' + _PAIR,
}


_CWD = dict(type='ChannelWiseDivergence', tau=1, loss_weight=5)

#: Candidates of the methods' v2 (chosen on val, winners on 3 seeds): a
#: base arm of :data:`ARMS` and ``--cfg-options`` overrides.
V2_ARMS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    # AttnFD + a logit term in the same run (CWD at MMRazor's weight)
    'attnfd_cwd': ('attnfd', {'model.distiller.logit_loss': _CWD,
                              'model.distiller.logit_loss_name': 'loss_cwd'}),
    # the frozen teacher's BN on batch statistics (overhaul distillation)
    'attnfd_bn_train': ('attnfd', {'model.teacher_norm_eval': False}),
    # decoder stages only (no backbone.layer4)
    'attnfd_decoder': ('attnfd', {'model.distiller.stages': [
        'decode_head.bottleneck', 'decode_head.sep_bottleneck']}),
    # the frozen teacher in bf16 (cheaper steps; accuracy effect)
    'attnfd_bf16': ('attnfd', {'model.teacher_precision': 'bf16'}),
    'cwd_bf16': ('cwd', {'model.teacher_precision': 'bf16'}),
    # axial SD: a tau-softened KL from the detached teacher output
    'sd_kl': ('sd', {'model.distiller.mse': dict(type='SelfDistillKLLoss',
                                                 tau=2.0)}),
    # axial SD whose consistency target is an EMA of student + block
    'sd_ema': ('sd', {'model.ema_teacher': dict(momentum=0.01)}),
    # axial SD whose block also reads the decoder features (conv_seg input)
    'sd_features': ('sd', {'model.distiller.axial_input': 'features'}),
    # axial SD whose two CE terms sum to the baseline's (0.5 + 0.5)
    'sd_half_ce': ('sd', {
        'model.architecture.decode_head.loss_decode.loss_weight': 0.5}),
    # controls: label smoothing 0.1 (and ce2 of ARMS)
    'ls': ('baseline', {'model.decode_head.loss_decode': dict(
        type='LabelSmoothCrossEntropyLoss', label_smoothing=0.1,
        use_sigmoid=False, loss_weight=1.0)}),
}


def config_path(repo: str, arm: str) -> str:
    """Absolute path of ``arm``'s config (a v2 arm: its base arm's)."""
    base = V2_ARMS[arm][0] if arm in V2_ARMS else arm
    return osp.join(repo, CONFIG_DIR, ARMS[base])


def arm_config(repo: str, arm: str):
    """The MMEngine config of ``arm``: its file plus the v2 overrides."""
    from mmengine.config import Config
    if arm not in ARMS and arm not in V2_ARMS:
        raise KeyError(f'unknown arm {arm!r}; choose from '
                       f'{sorted(ARMS) + sorted(V2_ARMS)}')
    cfg = Config.fromfile(config_path(repo, arm))
    if arm in V2_ARMS:
        cfg.merge_from_dict(V2_ARMS[arm][1])
    return cfg
