# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Every configs/axial_sd config builds; baselines match their students.

Models are built on the ``meta`` device: every constructor (backbone, heads,
axial connector, distiller preparation and recorders) runs, but no weights
are allocated or initialised, so 18 ResNet-50 models build in seconds.
"""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmrazor.registry import MODELS

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.utils import adapt_cfg_to_environment, axial_refine_model_cfg

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
AXIAL_CFGS = sorted(glob.glob(osp.join(REPO, 'configs', 'axial_sd', '*.py')))
NUM_CLASSES = {'drosophila-sstem': 5, 'medseg-covid': 4, 'camvid': 11}
HEADS = {'unet-s5-d16_fcn': 'FCNHead', 'pspnet': 'PSPHead',
         'deeplabv3plus': 'DepthwiseSeparableASPPHead',
         'deeplabv3_': 'ASPPHead', 'fpn': 'FPNHead', 'upernet': 'UPerHead'}


def _expected(path):
    name = osp.basename(path)
    classes = [n for k, n in NUM_CLASSES.items() if k in name]
    heads = [h for k, h in HEADS.items() if k in name]
    return classes[0], heads[0]


def test_all_models_and_datasets_are_covered():
    assert len(AXIAL_CFGS) == 18
    for model in HEADS:
        for data in NUM_CLASSES:
            hits = [p for p in AXIAL_CFGS if model in osp.basename(p)
                    and data in osp.basename(p)]
            assert len(hits) == 1, (model, data)


@pytest.mark.parametrize('path', AXIAL_CFGS, ids=osp.basename)
def test_axial_sd_config_builds_and_matches_its_baseline(path):
    cfg = Config.fromfile(path)
    assert 'mmseg_attnkd' in cfg.custom_imports['imports']
    assert 'http' not in cfg.pretty_text and 'open-mmlab://' not in \
        cfg.pretty_text
    num_classes, head_type = _expected(path)
    adapt_cfg_to_environment(cfg)  # SyncBN -> BN without CUDA
    with torch.device('meta'), DefaultScope.overwrite_default_scope('mmrazor'):
        algo = MODELS.build(cfg.model)
    head = algo.architecture.decode_head
    assert type(algo).__name__ == 'SegSelfDistill'
    assert type(head).__name__ == head_type
    assert head.num_classes == num_classes
    axial = algo.distiller.connectors['axial'].axial
    assert axial.in_channels == num_classes
    assert set(algo.distiller.distill_losses) == {'loss_teacher_ce',
                                                  'loss_sd_mse'}

    baseline = Config.fromfile(
        osp.join(REPO, 'configs', 'baselines',
                 osp.basename(path)[len('axial-sd_'):]))
    adapt_cfg_to_environment(baseline)
    student = cfg.model.architecture.to_dict()
    plain = baseline.model.to_dict()
    student.pop('_scope_', None)
    plain.pop('_scope_', None)
    assert student == plain  # the student is exactly the baseline model
    assert baseline.train_cfg == cfg.train_cfg
    assert baseline.train_dataloader == cfg.train_dataloader
    if 'auxiliary_head' in plain:
        assert algo.architecture.auxiliary_head.num_classes == num_classes

    # the teacher-output export config is derivable without weights
    refine = axial_refine_model_cfg(
        student, 'decode_head', dict(cfg.model.distiller.axial,
                                     in_channels=num_classes))
    assert refine['decode_head']['type'] == 'AxialRefineHead'
    assert refine['decode_head']['base_head'] == plain['decode_head']
