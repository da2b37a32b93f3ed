# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""What the deployment benchmark measures: the demo models (configs) and
their exported teacher outputs, on both runtimes.
"""
import os.path as osp

from bench.lib import common


DEMO_CFG = osp.join(common.REPO_ROOT, 'configs', 'demo')


BASELINE_CFG = osp.join(
    DEMO_CFG, 'deeplabv3plus_r18-w16-d16_1xb4-300i_camvid-mini-240x180.py')


ATTNFD_CFG = osp.join(
    DEMO_CFG, 'attnfd_deeplabv3plus-r18-w32-d8_deeplabv3plus-r18-w16-d16_'
    '1xb4-300i_camvid-mini-240x180.py')


AXIAL_CFG = osp.join(
    DEMO_CFG, 'axial-sd_deeplabv3plus-r18-w16-d16_1xb4-300i_'
    'camvid-mini-240x180.py')


MODELS = ('baseline student', 'AttnFD student', 'SD student output',
          'SD teacher output', 'SD teacher output, stride 2')


TEACHERS = ('SD teacher output', 'SD teacher output, stride 2')


RUNTIMES = ('torch', 'onnxruntime')
