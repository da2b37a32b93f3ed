# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""SegSelfDistillValLoop/TestLoop: both outputs scored, export-consistent.

A tiny FCN with axial self-distillation trains for two CPU iterations on
generated data; the val loop must report the student under MMSeg's keys and
the teacher output under ``teacher_output.*`` (and drive ``save_best`` on
both), and the teacher output it scores with sliding-window inference must
be exactly what the exported ``AxialRefineHead`` model computes.
"""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.engine import (TEACHER_OUTPUT_PREFIX,
                                 SegSelfDistillValLoop, axial_teacher_output,
                                 evaluate_outputs, find_axial_teacher_output)
from mmseg_attnkd.testing import (seg_batch, synthetic_dataset_cfg,
                                  tiny_fcn_cfg, tiny_runtime_cfg)
from mmseg_attnkd.utils import export_axial_refine

NUM_CLASSES = 4
ITERS = 2
#: windows of 32 px with stride 21 on the 64 px images: 3x3 overlapping
SLIDE = dict(mode='slide', crop_size=(32, 32), stride=(21, 21))


def _sd_model() -> dict:
    arch = tiny_fcn_cfg(8, NUM_CLASSES)
    arch['test_cfg'] = dict(SLIDE)
    return dict(
        _scope_='mmrazor', type='SegSelfDistill', architecture=arch,
        distiller=dict(type='AxialSelfDistiller',
                       axial=dict(channels=16, num_heads=2, span=8)))


@pytest.fixture(scope='module')
def trained(tmp_path_factory, small_synthetic_data):
    tmp = tmp_path_factory.mktemp('sd_loops')
    data_root = small_synthetic_data
    work_dir = str(tmp / 'work')
    runtime = tiny_runtime_cfg(work_dir, max_iters=ITERS,
                               val_interval=ITERS,
                               checkpoint_interval=ITERS, lr=0.02)
    runtime['val_cfg'] = dict(type='mmrazor.SegSelfDistillValLoop')
    runtime['default_hooks']['checkpoint'].update(
        type='AtomicCheckpointHook',
        save_best=['mIoU', 'teacher_output.mIoU'], rule='greater')
    runtime['default_hooks'].pop('visualization')
    cfg = dict(
        custom_imports=dict(imports=['mmseg_attnkd'],
                            allow_failed_imports=False),
        model=_sd_model(),
        **synthetic_dataset_cfg(data_root, NUM_CLASSES, batch_size=2),
        **runtime)
    cfg_path = str(tmp / 'sd_tiny.py')
    Config(cfg).dump(cfg_path)
    runner = Runner.from_cfg(Config.fromfile(cfg_path))
    runner.train()
    # a trained axial block is not the identity yet after two steps of a
    # zero-initialised projection; make the teacher output clearly differ
    with torch.no_grad():
        proj = runner.model.distiller.connectors['axial'].axial.proj
        proj.weight.normal_(0, 0.5, generator=torch.Generator().manual_seed(1))
    ckpt = str(tmp / 'perturbed.pth')
    runner.save_checkpoint(str(tmp), 'perturbed.pth', save_optimizer=False,
                           save_param_scheduler=False)
    return dict(tmp=tmp, runner=runner, cfg=cfg_path, ckpt=ckpt,
                work_dir=work_dir)


def test_val_loop_reports_both_outputs_and_saves_best_of_each(trained):
    runner = trained['runner']
    assert isinstance(runner.val_loop, SegSelfDistillValLoop)
    metrics = runner.val_loop.run()
    assert {'mIoU', 'aAcc', 'mAcc', 'teacher_output.mIoU',
            'teacher_output.aAcc'} <= set(metrics)
    work = trained['work_dir']
    # save_best on each key during training (validation at ITERS)
    assert glob.glob(osp.join(work, f'best_mIoU_iter_{ITERS}.pth'))
    assert glob.glob(osp.join(work,
                              f'best_teacher_output.mIoU_iter_{ITERS}.pth'))


def test_teacher_pass_scores_the_teacher_output(trained):
    runner = trained['runner']
    loop = runner.val_loop
    metrics = loop.run()
    # the same numbers without hooks, and the student ones without the
    # teacher context, come from the model alone
    again = evaluate_outputs(runner.model, loop.dataloader, loop.evaluator)
    assert again == pytest.approx(metrics)
    plain = evaluate_outputs(runner.model.architecture, loop.dataloader,
                             loop.evaluator)
    assert set(plain) == {k for k in metrics
                          if not k.startswith(TEACHER_OUTPUT_PREFIX)}
    assert plain['mIoU'] == pytest.approx(metrics['mIoU'])


def test_hook_is_removed_after_the_teacher_pass(trained):
    model = trained['runner'].model
    model.eval()
    conv_seg, _ = find_axial_teacher_output(model)
    hooks = dict(conv_seg._forward_hooks)  # the distiller's recorders
    inputs, samples = seg_batch(model, NUM_CLASSES, batch_size=1, size=64,
                                training=False)
    with torch.no_grad():
        before = model(inputs, samples, mode='tensor')
        with axial_teacher_output(model) as active:
            teacher = model(inputs, samples, mode='tensor')
        after = model(inputs, samples, mode='tensor')
    assert active
    assert torch.equal(before, after)
    assert not torch.equal(before, teacher)
    assert dict(conv_seg._forward_hooks) == hooks


def test_sliding_teacher_output_equals_the_exported_model(trained):
    """The val loop's teacher output == exported AxialRefineHead model,
    both with sliding-window inference (bit for bit)."""
    from mmseg.apis import init_model
    runner = trained['runner']
    model = runner.model
    state = torch.load(trained['ckpt'], map_location='cpu',
                       weights_only=False)['state_dict']
    model.load_state_dict(state)
    out_ckpt, out_cfg = export_axial_refine(
        trained['cfg'], trained['ckpt'],
        str(trained['tmp'] / 'export' / 'teacher_output.pth'))
    exported = init_model(out_cfg, out_ckpt, device='cpu')
    assert exported.test_cfg.mode == 'slide'
    assert Config.fromfile(out_cfg).val_cfg.type == 'ValLoop'
    model.eval()
    batch = next(iter(runner.val_loop.dataloader))
    with torch.no_grad():
        student = model.val_step(batch)[0].seg_logits.data
        with axial_teacher_output(model):
            teacher = model.val_step(batch)[0].seg_logits.data
        reference = exported.val_step(batch)[0].seg_logits.data
    assert teacher.shape == (NUM_CLASSES, 64, 64)
    assert torch.equal(teacher, reference)
    assert not torch.equal(teacher, student)
    # and the scores over the whole val set
    loop = runner.val_loop
    both = evaluate_outputs(model, loop.dataloader, loop.evaluator)
    exp = evaluate_outputs(exported, loop.dataloader, loop.evaluator)
    assert exp['mIoU'] == both['teacher_output.mIoU']


def test_plain_model_is_scored_like_val_loop(trained):
    from mmseg.registry import MODELS
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        plain = MODELS.build(tiny_fcn_cfg(8, NUM_CLASSES))
    assert find_axial_teacher_output(plain) is None
    with axial_teacher_output(plain) as active:
        assert not active


def test_empty_prefix_is_refused(trained):
    loop = trained['runner'].val_loop
    with pytest.raises(ValueError, match='teacher_prefix'):
        SegSelfDistillValLoop(trained['runner'], loop.dataloader,
                              loop.evaluator, teacher_prefix='')
