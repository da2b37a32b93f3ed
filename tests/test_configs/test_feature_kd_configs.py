# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""configs/feature_kd/: short configs on the AttnFD CamVid pair that build
their StageDistiller on the real DeepLabV3+ R101-d8 teacher and R18-d8
student."""
import functools
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.distillers import StageDistiller
from mmseg_attnkd.utils import adapt_cfg_to_environment

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'feature_kd', '*.py')))
ATTNFD = osp.join(
    REPO, 'configs', 'attnfd', 'attnfd_deeplabv3plus-r101-d8_deeplabv3plus-'
    'r18-d8_4xb2-40k_camvid-360x480.py')


@functools.lru_cache()
def _base():
    return Config.fromfile(ATTNFD)


def _load(path):
    cfg = Config.fromfile(path)
    adapt_cfg_to_environment(cfg)  # SyncBN -> BN without CUDA
    return cfg


@pytest.fixture(scope='module')
def pair():
    """The R18-d8 student and R101-d8 teacher of the CamVid configs."""
    from mmrazor.registry import MODELS
    cfg = _load(ATTNFD)
    return MODELS.build(cfg.model.architecture), MODELS.build(
        cfg.model.teacher)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_is_short_documented_and_matched(path):
    text = open(path).read()
    assert len(text.splitlines()) <= 30
    code = [ln for ln in text.splitlines() if not ln.lstrip().startswith('#')]
    assert not any('://' in ln for ln in code), 'no URL may be downloaded'
    method = osp.basename(path).split('_')[0]
    readme = open(osp.join(REPO, 'configs', 'feature_kd', 'README.md')).read()
    assert f'({osp.basename(path)})' in readme, 'a README row per config'
    cfg, base = Config.fromfile(path), _base()
    assert cfg.model.distiller.type == 'StageDistiller'
    assert cfg.model.distiller.loss_name == f'loss_{method}'
    # teacher, student, data and schedule of the AttnFD CamVid config
    for key in ('architecture', 'teacher', 'teacher_ckpt', 'type'):
        assert cfg.model.get(key) == base.model.get(key), key
    for key in ('train_dataloader', 'train_cfg', 'optim_wrapper', 'val_cfg'):
        assert cfg[key] == base[key], key


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_distiller_builds_on_the_real_pair(path, pair):
    from mmrazor.registry import MODELS
    student, teacher = pair
    cfg = _load(path).model.distiller
    cfg.probe_input_size = (32, 32)
    distiller = MODELS.build(cfg)
    assert isinstance(distiller, StageDistiller)
    distiller.prepare_from_student(student)
    distiller.prepare_from_teacher(teacher)
    assert distiller.is_built
    assert sorted(distiller.distill_losses) == [
        f'{cfg.loss_name}_{i}' for i in range(len(distiller.stages))
    ]
