# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""MMRazor's losses as segmentation methods train end to end (Runner).

The distiller of each shipped AT, OFD, MGD, PKD and DIST config (all on
``StageDistiller``) distils a width-8 tiny DeepLabV3+ from a width-16 one
for two iterations on the generated dataset, as ``tools/train.py`` would
run it. (The KD and CWD configs are single logit losses; they are built by
tests/test_configs/test_feature_kd_configs.py.)
"""
import glob
import json
import math
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.testing import (synthetic_dataset_cfg,
                                  tiny_deeplabv3plus_cfg, tiny_runtime_cfg)
from mmseg_attnkd.utils import (extract_student_state_dict,
                                load_checkpoint_safely)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'feature_kd', '*.py')))
TRAINED = ('at', 'ofd', 'mgd', 'pkd', 'dist')
NUM_CLASSES = 4
CROP = (32, 32)


def test_every_method_has_a_config():
    methods = sorted(osp.basename(p).split('_')[0] for p in CONFIGS)
    assert methods == ['at', 'cwd', 'dist', 'kd', 'mgd', 'ofd', 'pkd']


@pytest.mark.parametrize(
    'path', [p for p in CONFIGS if osp.basename(p).split('_')[0] in TRAINED],
    ids=lambda p: osp.basename(p).split('_')[0])
def test_method_trains_and_leaves_a_plain_student(path, tmp_path,
                                                  synthetic_data):
    distiller = Config.fromfile(path).model.distiller.to_dict()
    distiller['probe_input_size'] = (32, 32)
    work_dir = str(tmp_path / 'work')
    cfg = dict(
        custom_imports=dict(imports=['mmseg_attnkd'],
                            allow_failed_imports=False),
        model=dict(_scope_='mmrazor', type='SegSingleTeacherDistill',
                   architecture=tiny_deeplabv3plus_cfg(8, NUM_CLASSES, CROP),
                   teacher=tiny_deeplabv3plus_cfg(16, NUM_CLASSES, CROP),
                   distiller=distiller),
        **synthetic_dataset_cfg(synthetic_data, NUM_CLASSES, batch_size=2,
                                crop_size=CROP),
        **tiny_runtime_cfg(work_dir, max_iters=2, val_interval=100,
                           checkpoint_interval=2, distill=True))
    cfg['visualizer']['name'] = f'visualizer_feature_kd_{tmp_path.name}'

    Runner.from_cfg(Config(cfg)).train()

    loss_name = distiller['loss_name']
    scalars = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    rows = [json.loads(line) for line in open(scalars[0])]
    rows = [r for r in rows if f'distill.{loss_name}_0' in r]
    assert len(rows) == 2
    for row in rows:
        values = [v for k, v in row.items() if k.startswith('distill.')]
        assert values and all(math.isfinite(v) for v in values), row
    ckpt = load_checkpoint_safely(osp.join(work_dir, 'iter_2.pth'))
    from mmseg.registry import MODELS
    plain = MODELS.build(tiny_deeplabv3plus_cfg(8, NUM_CLASSES, CROP))
    plain.load_state_dict(extract_student_state_dict(ckpt), strict=True)
