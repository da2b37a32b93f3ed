# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Arms of the CamVid CPU study: one config file of ``configs/camvid240/``
each (adding a method to the study = adding its config and a line here)."""
import os.path as osp
from typing import Dict

__all__ = ['CONFIG_DIR', 'ARMS', 'config_path']

CONFIG_DIR = 'configs/camvid240'
_PAIR = ('deeplabv3plus-r18-w32-d8_deeplabv3plus-r18-w16-d16_1xb8-2k_'
         'camvid-240x180.py')

#: arm -> config file; the names of bench/camvid_arms.py.
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


def config_path(repo: str, arm: str) -> str:
    """Absolute path of ``arm``'s config."""
    return osp.join(repo, CONFIG_DIR, ARMS[arm])
