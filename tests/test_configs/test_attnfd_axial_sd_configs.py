# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The AttnFD + axial self-distillation config builds the combined model."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.connectors import AxialConnector
from mmseg_attnkd.models.distillers import AttnFDAxialDistiller
from mmseg_attnkd.utils import adapt_cfg_to_environment

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFGS = sorted(
    glob.glob(osp.join(REPO, 'configs', 'attnfd_axial_sd', '*.py')))


def test_there_is_a_config():
    assert CFGS


@pytest.mark.parametrize('path', CFGS, ids=osp.basename)
def test_config_builds_both_methods(path):
    from mmrazor.registry import MODELS
    cfg = Config.fromfile(path)
    # only the distiller differs from the inherited AttnFD config
    base = Config.fromfile(
        osp.join(REPO, 'configs', 'attnfd',
                 osp.basename(path).replace('attnfd-axial-sd_', 'attnfd_')))
    for key in ('train_dataloader', 'train_cfg', 'param_scheduler',
                'optim_wrapper', 'val_dataloader', 'val_cfg'):
        assert cfg[key] == base[key], key
    assert cfg.model.architecture == base.model.architecture
    assert cfg.model.teacher == base.model.teacher
    # the AttnFD settings, fitted attention file included, are inherited
    # (set, or left to the package default, in both)
    for key in ('stages', 'teacher_attention', 'teacher_attention_ckpt',
                'normalize', 'loss_weight'):
        assert cfg.model.distiller.get(key) == \
            base.model.distiller.get(key), key
    adapt_cfg_to_environment(cfg)
    cfg.model.distiller.probe_input_size = (32, 32)
    # no fitted file here (see test_attnfd_configs): a random attention
    cfg.model.distiller.update(teacher_attention='random',
                               teacher_attention_ckpt=None)
    model = MODELS.build(cfg.model)
    distiller = model.distiller
    assert isinstance(distiller, AttnFDAxialDistiller)
    assert isinstance(distiller.connectors['axial'], AxialConnector)
    assert sorted(distiller.distill_losses) == [
        'loss_attnfd_0', 'loss_attnfd_1', 'loss_attnfd_2', 'loss_sd_mse',
        'loss_teacher_ce'
    ]
    conv_seg = model.architecture.decode_head.conv_seg
    assert distiller.connectors['axial'].axial.embed.in_channels == \
        conv_seg.out_channels == 11
