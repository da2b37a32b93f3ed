# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Stock MMSeg model dicts inside the distillation algorithms: the scope
defaults to mmseg and the architecture's own data preprocessor is used."""
import copy
import logging

import pytest
import torch
from mmengine.logging import MMLogger
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmrazor.registry import MODELS
from mmseg.structures import SegDataSample

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.algorithms import with_default_scope
from mmseg_attnkd.testing import (generate_seg_dataset, synthetic_dataset_cfg,
                                  tiny_fcn_cfg, tiny_runtime_cfg)

NUM_CLASSES = 4


def _stock(width=4, size=(32, 32)):
    """A model dict as a stock MMSeg config has it: no ``_scope_``."""
    cfg = tiny_fcn_cfg(width, NUM_CLASSES)
    cfg.pop('_scope_')
    cfg['data_preprocessor']['size'] = size
    return cfg


def _top_level_preprocessor(size=(64, 64)):
    pre = copy.deepcopy(_stock()['data_preprocessor'])
    pre['size'] = size
    return pre


def _self_distill(**kwargs):
    return dict(_scope_='mmrazor', type='SegSelfDistill',
                architecture=_stock(),
                distiller=dict(type='AxialSelfDistiller',
                               axial=dict(channels=8, num_heads=2)),
                **kwargs)


def _teacher_distill(**kwargs):
    return dict(_scope_='mmrazor', type='SegSingleTeacherDistill',
                architecture=_stock(), teacher=_stock(8),
                distiller=dict(type='AttnFDDistiller', stages='auto',
                               teacher_attention='random'),
                **kwargs)


def _warnings(caplog):
    return [r.getMessage() for r in caplog.records
            if r.levelno >= logging.WARNING and 'data_preprocessor' in
            r.getMessage()]


@pytest.fixture
def caplog_mm(caplog):
    """Route MMEngine's current logger into caplog."""
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)


@pytest.mark.parametrize('build', [_self_distill, _teacher_distill],
                         ids=['SegSelfDistill', 'SegSingleTeacherDistill'])
def test_stock_dicts_without_scope_build(build):
    algo = MODELS.build(build())
    assert type(algo.architecture).__name__ == 'EncoderDecoder'
    if hasattr(algo, 'teacher'):
        assert type(algo.teacher).__name__ == 'EncoderDecoder'


def test_scope_default_leaves_scoped_and_cfg_path_dicts_alone():
    scoped = dict(_scope_='mmseg', type='EncoderDecoder')
    assert with_default_scope(scoped, 'teacher') is scoped
    by_path = dict(cfg_path='mmseg::fcn/x.py', pretrained=False)
    assert with_default_scope(by_path, 'teacher') is by_path
    assert with_default_scope(dict(type='EncoderDecoder'),
                              'teacher')['_scope_'] == 'mmseg'
    razor = dict(type='SegSelfDistill')  # MMRazor's own registry knows it
    assert '_scope_' not in with_default_scope(razor, 'architecture')


def test_unknown_type_is_refused_in_one_line():
    cfg = _stock()
    cfg['type'] = 'EncoderDecodr'
    with pytest.raises(KeyError) as info:
        MODELS.build(dict(_self_distill(), architecture=cfg))
    message = str(info.value)
    assert "architecture.type='EncoderDecodr'" in message
    assert "_scope_='mmseg'" in message and 'cfg_path' in message
    assert '\n' not in message


@pytest.mark.parametrize('build', [_self_distill, _teacher_distill],
                         ids=['SegSelfDistill', 'SegSingleTeacherDistill'])
def test_architecture_preprocessor_wins_over_algorithm_level(build, caplog_mm):
    """What MMEngine's runner does: the top-level preprocessor (64x64 crop)
    lands in the algorithm dict; the student's own says 32x32."""
    algo = MODELS.build(build(data_preprocessor=_top_level_preprocessor()))
    assert algo.data_preprocessor is algo.architecture.data_preprocessor
    assert tuple(algo.data_preprocessor.size) == (32, 32)
    warned = _warnings(caplog_mm)
    assert len(warned) == 1 and 'size=(64, 64)' in warned[0] and \
        'size=(32, 32)' in warned[0], warned
    # a 24x24 image is padded to the student's crop, not the base config's
    sample = SegDataSample(gt_sem_seg=PixelData(
        data=torch.zeros(1, 24, 24, dtype=torch.long)))
    data = dict(inputs=[torch.zeros(3, 24, 24, dtype=torch.uint8)],
                data_samples=[sample])
    out = algo.data_preprocessor(data, training=True)
    assert tuple(out['inputs'].shape[-2:]) == (32, 32)


def test_equal_preprocessor_is_taken_silently(caplog_mm):
    arch = _stock()
    algo = MODELS.build(_self_distill(
        data_preprocessor=copy.deepcopy(arch['data_preprocessor'])))
    assert algo.data_preprocessor is algo.architecture.data_preprocessor
    assert _warnings(caplog_mm) == []


def test_runner_top_level_preprocessor_does_not_reach_the_model(tmp_path):
    """The real path: Runner.from_cfg copies the config's top-level
    data_preprocessor into the model dict; the student's 32x32 stays."""
    root = str(tmp_path / 'data')
    generate_seg_dataset(root, num_train=2, num_val=1, size=(32, 32),
                         num_classes=NUM_CLASSES)
    cfg = dict(model=_self_distill(),
               data_preprocessor=_top_level_preprocessor(),
               custom_imports=dict(imports=['mmseg_attnkd'],
                                   allow_failed_imports=False))
    cfg.update(tiny_runtime_cfg(str(tmp_path / 'work'), 2, 2, 2,
                                distill=True))
    cfg.update(synthetic_dataset_cfg(root, NUM_CLASSES, crop_size=(32, 32)))
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    model = runner.model
    assert tuple(model.data_preprocessor.size) == (32, 32)
    assert model.data_preprocessor is model.architecture.data_preprocessor
