# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Tiny trained distillation runs shared by the tool tests.

Each run trains 2 iterations with ``tools/train.py`` on the generated
dataset (teacher width 16, student width 8), validates once (student and
teacher mIoU in the JSON log) and saves ``iter_2.pth``.
"""
import os.path as osp

import pytest
from mmengine.config import Config

from mmseg_attnkd.testing import (synthetic_dataset_cfg,
                                  tiny_deeplabv3plus_cfg, tiny_fcn_cfg,
                                  tiny_runtime_cfg, tiny_teacher_distill_cfg)
from _tools_helpers import load_tool

NUM_CLASSES = 4
CUSTOM_IMPORTS = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)


def _train(folder, stem: str, model: dict, data_root: str,
           distill: bool = True) -> dict:
    work_dir = str(folder / 'work')
    cfg = dict(
        custom_imports=CUSTOM_IMPORTS,
        crop_size=(64, 64),
        model=model,
        **synthetic_dataset_cfg(data_root, NUM_CLASSES, batch_size=2),
        **tiny_runtime_cfg(work_dir, max_iters=2, val_interval=2,
                           checkpoint_interval=2, distill=distill))
    # a visualizer name of its own: MMEngine reuses a same-named instance
    # of an earlier Runner in this process, which would write this run's
    # scalars into that run's vis_data folder
    cfg['visualizer']['name'] = f'visualizer_{stem}_{folder.name}'
    cfg_path = str(folder / f'{stem}.py')
    Config(cfg).dump(cfg_path)
    load_tool('train.py').main([cfg_path, '--work-dir', work_dir])
    return dict(cfg=cfg_path, work_dir=work_dir,
                ckpt=osp.join(work_dir, 'iter_2.pth'))


def _plain_cfg(folder, stem: str, model: dict, data_root: str) -> str:
    cfg = dict(
        custom_imports=CUSTOM_IMPORTS,
        model=model,
        **synthetic_dataset_cfg(data_root, NUM_CLASSES, batch_size=2),
        **tiny_runtime_cfg(str(folder / f'work_{stem}'), max_iters=2))
    path = str(folder / f'{stem}.py')
    Config(cfg).dump(path)
    return path


@pytest.fixture(scope='session')
def cwd_run(tmp_path_factory, synthetic_data) -> dict:
    """MMRazor ChannelWiseDivergence on decode_head.conv_seg logits."""
    folder = tmp_path_factory.mktemp('cwd_run')
    logits = dict(type='ModuleOutputs', source='decode_head.conv_seg')
    model = tiny_teacher_distill_cfg(dict(
        type='ConfigurableDistiller',
        student_recorders=dict(logits=logits),
        teacher_recorders=dict(logits=logits),
        distill_losses=dict(
            loss_cwd=dict(type='ChannelWiseDivergence', tau=1,
                          loss_weight=3)),
        loss_forward_mappings=dict(
            loss_cwd=dict(
                preds_S=dict(from_student=True, recorder='logits'),
                preds_T=dict(from_student=False, recorder='logits')))))
    run = _train(folder, 'cwd_tiny-d8_4xb2-2i_synthetic-64x64', model,
                 synthetic_data)
    run['student_cfg'] = _plain_cfg(
        folder, 'student_tiny', tiny_deeplabv3plus_cfg(8, NUM_CLASSES),
        synthetic_data)
    run['teacher_cfg'] = _plain_cfg(
        folder, 'teacher_tiny', tiny_deeplabv3plus_cfg(16, NUM_CLASSES),
        synthetic_data)
    run['wrong_student_cfg'] = _plain_cfg(
        folder, 'student_wrong', tiny_deeplabv3plus_cfg(8, NUM_CLASSES + 1),
        synthetic_data)
    return run


@pytest.fixture(scope='session')
def attnfd_run(tmp_path_factory, synthetic_data) -> dict:
    """AttnFD (stages='auto': 3 stages for DeepLabV3+)."""
    folder = tmp_path_factory.mktemp('attnfd_run')
    model = tiny_teacher_distill_cfg(dict(
        type='AttnFDDistiller', stages='auto', teacher_attention='random'))
    return _train(folder, 'attnfd_tiny', model, synthetic_data)


@pytest.fixture(scope='session')
def axial_run(tmp_path_factory, synthetic_data) -> dict:
    """Axial self-distillation of a tiny FCN."""
    folder = tmp_path_factory.mktemp('axial_run')
    model = dict(
        _scope_='mmrazor',
        type='SelfDistill',
        architecture=tiny_fcn_cfg(8, NUM_CLASSES),
        distiller=dict(
            type='AxialSelfDistiller',
            axial=dict(channels=8, num_heads=2, span=16)))
    return _train(folder, 'axial_tiny', model, synthetic_data,
                  distill=False)
