# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Every checkpoint MMEngine's runner writes in this stack loads weights-only.

Real runs of MMEngine's ``Runner`` (in this process, a few iterations on the
generated dataset) save checkpoints in the states a user can end up with,
and each one must load through the safe loader and resume:

* at iteration 1, before any validation (``iter_1.pth``);
* right after a validation (``iter_2.pth``, which ``save_best`` writes again
  after the validation) whose model returns losses, so MMEngine's
  ``ValLoop`` keeps one ``HistoryBuffer`` per loss (one of them still
  empty: a loss term with no values in this pass) and a hook keeps those
  buffers in the message hub; ``save_best`` writes ``best_mIoU_iter_N.pth``
  from ``after_val_epoch`` with a numpy ``best_score``;
* with MMRazor distillation (``SingleTeacherDistillValLoop``: student and
  teacher metrics) and this project's ``AtomicCheckpointHook``;
* with axial self-distillation and this project's ``SegSelfDistillValLoop``;
* with the visualizer and hooks of the stack (``SegVisualizationHook`` that
  draws, ``EMAHook``, ``max_keep_ckpts``).

An empty numpy array (an empty ``HistoryBuffer``) pickles its data as
``bytes()``; before the restricted ``bytes`` stand-in in ``compat`` such a
file was refused with ``Unsupported global: GLOBAL bytes``.
"""
import copy
import glob
import os.path as osp
import pickletools
import uuid
import zipfile

import numpy as np
import pytest
import torch
from _reliability_helpers import axial_cfg
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner
from mmengine.structures import BaseDataElement
from mmseg.models.segmentors import EncoderDecoder
from mmseg.registry import HOOKS, MODELS

from mmseg_attnkd.testing import (cwd_distill_cfg, synthetic_dataset_cfg,
                                  tiny_fcn_cfg, tiny_runtime_cfg)
from mmseg_attnkd.utils import load_checkpoint_safely


@MODELS.register_module(name='ValLossEncoderDecoderForTest', force=True)
class ValLossEncoderDecoder(EncoderDecoder):
    """A segmentor that also reports losses at validation.

    MMEngine's ``ValLoop`` collects them (``outputs[-1]`` holding only
    ``loss``) into one ``HistoryBuffer`` per name; ``loss_aux`` is an empty
    list of tensors, so its buffer is created but gets no value.
    """

    def val_step(self, data):
        outputs = super().val_step(data)
        losses = self.loss(*self.data_preprocessor(data, True).values())
        return list(outputs) + [BaseDataElement(loss=dict(
            loss_ce=losses['decode.loss_ce'].detach(), loss_aux=[]))]


@HOOKS.register_module(name='KeepValLossHookForTest', force=True)
class KeepValLossHook(Hook):
    """Keeps the val loop's loss buffers in the message hub (resumed)."""

    def after_val_epoch(self, runner, metrics=None):
        runner.message_hub.update_info(
            'val_loss_buffers', dict(runner.val_loop.val_loss))
        # a non-scalar metric: RuntimeInfoHook stores such values with
        # update_info, i.e. in the checkpoint
        runner.message_hub.update_info('val/empty_array', np.zeros(0))
        runner.message_hub.update_info('val/empty_str', np.str_(''))


def _globals(path: str) -> set:
    with zipfile.ZipFile(path) as zf:
        name = [n for n in zf.namelist() if n.endswith('data.pkl')][0]
        data = zf.read(name)
    return {arg for op, arg, _ in pickletools.genops(data)
            if op.name in ('GLOBAL', 'STACK_GLOBAL')}


def _run(cfg: dict) -> Runner:
    cfg = copy.deepcopy(cfg)
    # a dict config's experiment is named by its timestamp alone: two runs
    # started in the same second would share one MessageHub, and the
    # second would inherit the first's best score (no best checkpoint)
    cfg.setdefault('experiment_name', f'run_{uuid.uuid4().hex[:8]}')
    runner = Runner.from_cfg(Config(cfg))
    runner.train()
    return runner


def _plain_cfg(data_root, work_dir, max_iters=2):
    cfg = dict(custom_imports=dict(imports=['mmseg_attnkd.engine'],
                                   allow_failed_imports=False))
    cfg.update(tiny_runtime_cfg(work_dir, max_iters, val_interval=2,
                                checkpoint_interval=1))
    cfg.update(synthetic_dataset_cfg(data_root, num_classes=4, batch_size=2))
    cfg['model'] = tiny_fcn_cfg(4, 4)
    cfg['model']['type'] = 'ValLossEncoderDecoderForTest'
    cfg['default_hooks']['checkpoint'].update(
        save_best='mIoU', rule='greater', max_keep_ckpts=2)
    cfg['default_hooks']['visualization'] = dict(
        type='SegVisualizationHook', draw=True, interval=1)
    cfg['custom_hooks'] = [dict(type='EMAHook', momentum=0.01),
                           dict(type='KeepValLossHookForTest')]
    return cfg


def _assert_loads(path: str) -> dict:
    ckpt = load_checkpoint_safely(path)
    assert ckpt['state_dict'], path
    assert 'message_hub' in ckpt and 'meta' in ckpt, path
    return ckpt


def test_plain_runner_checkpoints_load_and_resume(tmp_path, synthetic_data):
    work = str(tmp_path / 'plain')
    _run(_plain_cfg(synthetic_data, work))
    # iteration 1: saved before the first validation
    early = _assert_loads(osp.join(work, 'iter_1.pth'))
    assert not any(k.startswith('val/')
                   for k in early['message_hub']['log_scalars'])
    # iteration 2: with save_best, MMEngine's CheckpointHook writes
    # iter_2.pth again after the validation of iteration 2 (to record the
    # new best), and best_mIoU_iter_2.pth from after_val_epoch
    best = glob.glob(osp.join(work, 'best_mIoU_iter_*.pth'))
    assert best
    for path in [osp.join(work, 'iter_2.pth')] + best:
        assert "__builtin__ bytes" in _globals(path), path
        ckpt = _assert_loads(path)
        hub = ckpt['message_hub']
        assert 'val/mIoU' in hub['log_scalars']
        assert 'val/val_loss' in hub['log_scalars']  # ValLoop's loss sum
        buffers = hub['runtime_info']['val_loss_buffers']
        assert isinstance(buffers['loss_aux'], HistoryBuffer)
        assert len(buffers['loss_aux'].data[0]) == 0  # empty buffer
        assert len(buffers['loss_ce'].data[0]) == 4  # one per val image
        assert hub['runtime_info']['val/empty_array'].shape == (0, )
        assert hub['runtime_info']['val/empty_str'] == ''
        assert 'ema_state_dict' in ckpt
    # resume from the file saved after validation: MessageHub.load_state_dict
    # takes the empty buffer, and training continues
    resume_cfg = _plain_cfg(synthetic_data, work, max_iters=3)
    resume_cfg.update(resume=True, load_from=osp.join(work, 'iter_2.pth'))
    runner = _run(resume_cfg)
    assert runner.iter == 3
    assert osp.isfile(osp.join(work, 'iter_3.pth'))
    _assert_loads(osp.join(work, 'iter_3.pth'))


def test_distillation_runner_checkpoints_load(tmp_path, synthetic_data):
    """MMRazor's SingleTeacherDistillValLoop + AtomicCheckpointHook."""
    work = str(tmp_path / 'cwd')
    cfg = cwd_distill_cfg(synthetic_data, work, max_iters=1, val_interval=1,
                          checkpoint_interval=1)
    cfg['custom_imports']['imports'].append('mmseg_attnkd.engine')
    cfg['default_hooks']['checkpoint'] = dict(
        type='AtomicCheckpointHook', by_epoch=False, interval=1,
        save_best='teacher.mIoU', rule='greater')
    _run(cfg)
    paths = sorted(glob.glob(osp.join(work, '*.pth')))
    assert len(paths) == 2, paths  # iter_1 and best_teacher.mIoU_iter_1
    for path in paths:
        ckpt = _assert_loads(path)
        assert any(k.startswith('distiller') or k.startswith('architecture')
                   for k in ckpt['state_dict'])
    scalars = load_checkpoint_safely(
        osp.join(work, 'iter_1.pth'))['message_hub']['log_scalars']
    assert 'val/teacher.mIoU' in scalars and 'val/mIoU' in scalars


def test_axial_self_distill_runner_checkpoints_load(tmp_path,
                                                    synthetic_data):
    """This project's SegSelfDistillValLoop (student + teacher output)."""
    work = str(tmp_path / 'axial')
    cfg = axial_cfg(synthetic_data, work, max_iters=2, ckpt_interval=1)
    cfg['train_cfg']['val_interval'] = 1
    cfg['val_cfg'] = dict(type='mmrazor.SegSelfDistillValLoop')
    _run(cfg)
    ckpt = _assert_loads(osp.join(work, 'iter_2.pth'))
    scalars = ckpt['message_hub']['log_scalars']
    assert 'val/teacher_output.mIoU' in scalars and 'val/mIoU' in scalars


@pytest.mark.parametrize('args', [(10**12, ), ('payload', 'utf-8'),
                                  ([112, 119], )])
def test_bytes_stand_in_refuses_arguments(tmp_path, args):
    """Only ``bytes()`` is resolved; ``bytes(10**12)`` would allocate 1 TB."""
    from mmseg_attnkd.utils import UnsafeCheckpointError

    class _Bytes:

        def __reduce__(self):
            return (bytes, args)

    path = str(tmp_path / 'bytes.pth')
    torch.save(dict(state_dict={'w': torch.ones(1)}, extra=_Bytes()), path)
    with pytest.raises(UnsafeCheckpointError, match='refused to load'):
        load_checkpoint_safely(path)
