# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial self-distillation end to end: tools/train.py, both exports, MMSeg.

Trains a tiny PSPNet (+aux head) with ``AxialSelfDistiller`` for a few CPU
iterations on generated data, then checks

1. the student export loads into plain MMSeg (``init_model`` +
   ``inference_model``);
2. the teacher-output export (``AxialRefineHead``) loads, runs
   ``tools/test.py`` and ``inference_model``, and returns exactly the teacher
   logits the distiller computes for the same input and weights.
"""
import ast
import glob
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.testing import (synthetic_dataset_cfg, tiny_pspnet_cfg,
                                  tiny_runtime_cfg)
from mmseg_attnkd.utils import build_distill_model

from _tools_helpers import load_tool

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NUM_CLASSES = 4
ITERS = 6


@pytest.fixture(scope='module')
def trained(tmp_path_factory, small_synthetic_data):
    tmp = tmp_path_factory.mktemp('axial_sd')
    data_root = small_synthetic_data
    work_dir = str(tmp / 'work')
    data = synthetic_dataset_cfg(data_root, NUM_CLASSES, batch_size=2)
    cfg = dict(
        custom_imports=dict(imports=['mmseg_attnkd'],
                            allow_failed_imports=False),
        model=dict(
            _scope_='mmrazor',
            type='SelfDistill',
            architecture=tiny_pspnet_cfg(8, NUM_CLASSES, with_aux=True),
            distiller=dict(
                type='AxialSelfDistiller',
                axial=dict(channels=16, num_heads=2, span=8))),
        test_pipeline=data['test_dataloader']['dataset']['pipeline'],
        **data,
        **tiny_runtime_cfg(work_dir, max_iters=ITERS, val_interval=ITERS,
                           checkpoint_interval=ITERS, lr=0.02))
    cfg_path = str(tmp / 'axial_sd_tiny.py')
    Config(cfg).dump(cfg_path)
    load_tool('train.py').main([cfg_path, '--work-dir', work_dir])
    return dict(tmp=tmp, cfg=cfg_path, work_dir=work_dir,
                ckpt=osp.join(work_dir, f'iter_{ITERS}.pth'),
                data_root=data_root)


def test_train_tool_logs_the_three_loss_terms(trained):
    scalars = glob.glob(
        osp.join(trained['work_dir'], '*', 'vis_data', 'scalars.json'))
    rows = [json.loads(line) for line in open(scalars[0])]
    train_rows = [r for r in rows if 'distill.loss_teacher_ce' in r]
    assert len(train_rows) == ITERS
    for key in ('student.decode.loss_ce', 'student.aux.loss_ce',
                'distill.loss_teacher_ce', 'distill.loss_sd_mse'):
        assert all(np.isfinite(r[key]) for r in train_rows), key
    # zero-init: teacher == student at the first step, then they part
    assert train_rows[0]['distill.loss_sd_mse'] == 0.0
    assert train_rows[-1]['distill.loss_sd_mse'] > 0.0
    assert any('mIoU' in r for r in rows)  # student validated


def test_loss_term_report_reads_a_real_training_log(trained):
    from bench.sd_loss_terms.terms import run_terms
    terms = run_terms(trained['work_dir'])
    assert terms['iters'] == ITERS
    for name in ('student_ce', 'teacher_ce', 'mse'):
        assert set(terms[name]) == {'first', 'last'}
        assert all(np.isfinite(v) for v in terms[name].values()), name
    assert terms['mse']['first'] == 0.0 and terms['mse']['last'] > 0.0


def _image(trained):
    return osp.join(trained['data_root'], 'img_dir', 'val', '0000.png')


def test_student_export_runs_in_plain_mmseg(trained):
    from mmseg.apis import inference_model, init_model
    out = str(trained['tmp'] / 'student.pth')
    load_tool('model_converters/convert_kd_ckpt_to_student.py').main(
        [trained['ckpt'], out, '--config', trained['cfg']])
    cfg = Config.fromfile(trained['cfg'])
    cfg.model = tiny_pspnet_cfg(8, NUM_CLASSES, with_aux=True)
    model = init_model(cfg, out, device='cpu')
    result = inference_model(model, _image(trained))
    assert result.pred_sem_seg.data.shape == (1, 64, 64)
    assert type(model.decode_head).__name__ == 'PSPHead'
    # output for output the student inside the trained distillation model
    algo = build_distill_model(trained['cfg'], trained['ckpt'])
    inputs = torch.randn(2, 3, 64, 64,
                         generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(model(inputs, mode='tensor'),
                           algo.architecture(inputs, mode='tensor'))


@pytest.fixture(scope='module')
def refine_export(trained):
    out = str(trained['tmp'] / 'teacher_output.pth')
    load_tool('model_converters/convert_axial_ckpt_to_refine_head.py').main(
        [trained['cfg'], trained['ckpt'], out])
    return out, osp.splitext(out)[0] + '.py'


def test_teacher_export_runs_in_mmseg_and_tools_test(trained, refine_export):
    from mmseg.apis import inference_model, init_model
    ckpt, cfg_path = refine_export
    cfg = Config.fromfile(cfg_path)
    assert cfg.model.type == 'EncoderDecoder'
    assert cfg.model.decode_head.type == 'AxialRefineHead'
    assert 'mmrazor' not in cfg.pretty_text
    model = init_model(cfg_path, ckpt, device='cpu')  # strict key match
    head = model.decode_head
    assert head.num_classes == NUM_CLASSES and head.align_corners is False
    assert head.out_channels == NUM_CLASSES
    assert model.dataset_meta['classes'][0] == 'class0'
    result = inference_model(model, _image(trained))
    assert result.seg_logits.data.shape == (NUM_CLASSES, 64, 64)
    work = str(trained['tmp'] / 'test_work')
    load_tool('test.py').main([cfg_path, ckpt, '--work-dir', work])
    logs = glob.glob(osp.join(work, '*', '*.log'))
    assert logs and 'mIoU' in open(logs[0]).read()


@pytest.mark.parametrize('train_mode', [False, True])
def test_teacher_export_equals_training_teacher_output_exactly(
        trained, refine_export, train_mode):
    from mmseg.apis import init_model
    ckpt, cfg_path = refine_export
    algo = build_distill_model(trained['cfg'], trained['ckpt'])
    refine = init_model(cfg_path, ckpt, device='cpu')
    algo.train(train_mode)
    refine.train(train_mode)
    g = torch.Generator().manual_seed(0)
    inputs = torch.randn(2, 3, 64, 64, generator=g)
    samples = []
    for _ in range(2):
        s = SegDataSample(gt_sem_seg=PixelData(
            data=torch.randint(0, NUM_CLASSES, (1, 64, 64), generator=g)))
        s.set_metainfo(dict(img_shape=(64, 64), pad_shape=(64, 64),
                            ori_shape=(64, 64)))
        samples.append(s)
    with torch.no_grad():
        algo(inputs, samples, mode='loss')
        teacher = algo.distiller.teacher_output()
        student = algo.distiller.student_output()
        exported = refine(inputs, mode='tensor')
    assert torch.equal(exported, teacher)
    assert not torch.equal(teacher, student)  # the axial block is trained


def test_refine_head_is_a_normal_decode_head(trained, refine_export):
    from mmseg.apis import init_model
    ckpt, cfg_path = refine_export
    model = init_model(cfg_path, ckpt, device='cpu')
    model.train()
    inputs = torch.randn(2, 3, 64, 64)
    samples = []
    for _ in range(2):
        s = SegDataSample(gt_sem_seg=PixelData(
            data=torch.randint(0, NUM_CLASSES, (1, 64, 64))))
        s.set_metainfo(dict(img_shape=(64, 64), pad_shape=(64, 64),
                            ori_shape=(64, 64)))
        samples.append(s)
    losses = model(inputs, samples, mode='loss')
    assert {'decode.loss_ce', 'aux.loss_ce'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert model.decode_head.axial.proj.weight.grad.abs().sum() > 0
    model.eval()
    preds = model(inputs, samples, mode='predict')
    assert preds[0].pred_sem_seg.data.shape == (1, 64, 64)


def test_refine_head_modules_do_not_import_mmrazor():
    for rel in ('models/heads/axial_refine_head.py',
                'models/attention/axial_attention.py',
                'models/attention/axial_attention1d.py',
                'models/attention/relative_attention.py'):
        tree = ast.parse(open(osp.join(REPO, 'mmseg_attnkd', rel)).read())
        names = [a.name for n in ast.walk(tree)
                 if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or '' for n in ast.walk(tree)
                  if isinstance(n, ast.ImportFrom)]
        assert not any('mmrazor' in n for n in names), (rel, names)


def test_refine_head_rejects_heads_without_conv_seg():
    from mmseg.registry import MODELS
    with pytest.raises(TypeError, match='conv_seg'):
        MODELS.build(dict(type='AxialRefineHead',
                          base_head=dict(type='mmseg.ResNetV1c', depth=18),
                          axial=dict(channels=8, num_heads=2)))
    with pytest.raises(ValueError, match='in_channels'):
        head = tiny_pspnet_cfg(8, NUM_CLASSES)['decode_head']
        MODELS.build(dict(type='AxialRefineHead', base_head=head,
                          axial=dict(in_channels=3, channels=8,
                                     num_heads=2)))
