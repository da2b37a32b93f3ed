# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Every bad input gets a clear error naming the problem and the fix.

Each case builds the real component with one thing wrong and checks the
exception type and the key parts of its message. ``python
tests/test_reliability/test_errors.py`` prints the table of
``docs/errors.md`` from the messages these cases actually produce.
"""
import copy
import math
import os.path as osp
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import mmseg_attnkd  # noqa: E402,F401
import mmseg_attnkd.engine  # noqa: E402,F401
from mmseg_attnkd.testing import (generate_seg_dataset,  # noqa: E402
                                  synthetic_dataset_cfg, tiny_fcn_cfg)
from mmseg_attnkd.utils import UnsafeCheckpointError  # noqa: E402


# --------------------------------------------------------------------------
# builders
# --------------------------------------------------------------------------
def _cwd_model(s_classes=4, t_classes=4, s_source='decode_head.conv_seg',
               t_source='decode_head.conv_seg',
               algorithm='SegSingleTeacherDistill', **kwargs):
    rec = dict(type='ModuleOutputs')
    return dict(
        _scope_='mmrazor',
        type=algorithm,
        architecture=tiny_fcn_cfg(4, s_classes),
        teacher=tiny_fcn_cfg(8, t_classes),
        distiller=dict(
            type='ConfigurableDistiller',
            student_recorders=dict(logits=dict(rec, source=s_source)),
            teacher_recorders=dict(logits=dict(rec, source=t_source)),
            distill_losses=dict(loss_cwd=dict(
                type='ChannelWiseDivergence', tau=1, loss_weight=5)),
            loss_forward_mappings=dict(loss_cwd=dict(
                preds_S=dict(from_student=True, recorder='logits'),
                preds_T=dict(from_student=False, recorder='logits')))),
        **kwargs)


def _build(cfg):
    from mmrazor.registry import MODELS
    return MODELS.build(copy.deepcopy(cfg))


def _teacher_state(width=8, classes=4):
    from mmseg.registry import MODELS
    return MODELS.build(tiny_fcn_cfg(width, classes)).state_dict()


def _save(path, obj):
    torch.save(obj, path)
    return str(path)


class _Evil:
    """Unpickling it would create ``marker`` (proof of code execution)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, 'w'))


# --------------------------------------------------------------------------
# cases: (id, bad input, trigger(tmp_path), exception, message fragments)
# --------------------------------------------------------------------------
def _recorder_typo_student(tmp):
    _build(_cwd_model(s_source='decode_head.conv_sag'))


def _recorder_typo_teacher(tmp):
    _build(_cwd_model(t_source='backbone.layer9'))


def _classes_differ(tmp):
    _build(_cwd_model(s_classes=4, t_classes=5))


def _ckpt_missing(tmp):
    _build(_cwd_model(teacher_ckpt=str(tmp / 'nope.pth')))


def _ckpt_empty(tmp):
    path = tmp / 'empty.pth'
    path.write_bytes(b'')
    _build(_cwd_model(teacher_ckpt=str(path)))


def _ckpt_truncated(tmp):
    full = _save(tmp / 'full.pth', dict(state_dict=_teacher_state()))
    data = open(full, 'rb').read()
    path = tmp / 'truncated.pth'
    path.write_bytes(data[:len(data) // 2])
    _build(_cwd_model(teacher_ckpt=str(path)))


def _ckpt_unsafe(tmp):
    marker = str(tmp / 'pwned')
    path = _save(tmp / 'evil.pth', dict(state_dict=_teacher_state(),
                                        x=_Evil(marker)))
    try:
        _build(_cwd_model(teacher_ckpt=path))
    finally:
        assert not osp.exists(marker), 'the pickle payload was executed'


def _ckpt_wrong_arch(tmp):
    # weights of the width-4 student given as the width-8 teacher
    path = _save(tmp / 'student.pth', dict(state_dict=_teacher_state(4)))
    _build(_cwd_model(teacher_ckpt=path))


def _ckpt_keys_missing(tmp):
    state = {k: v for k, v in _teacher_state().items()
             if not k.startswith('backbone.layer4')}
    path = _save(tmp / 'partial.pth', dict(state_dict=state))
    _build(_cwd_model(teacher_ckpt=path))


def _ckpt_is_distillation(tmp):
    state = {f'architecture.{k}': v for k, v in _teacher_state().items()}
    path = _save(tmp / 'kd.pth', dict(state_dict=state))
    _build(_cwd_model(teacher_ckpt=path))


def _ckpt_no_state(tmp):
    path = _save(tmp / 'meta_only.pth', dict(meta=dict(), state_dict={}))
    _build(_cwd_model(teacher_ckpt=path))


def _bad_max_missing(tmp):
    path = _save(tmp / 't.pth', dict(state_dict=_teacher_state()))
    _build(_cwd_model(teacher_ckpt=path, teacher_ckpt_max_missing=10))


def _bad_policy(tmp):
    _build(_cwd_model(nonfinite_loss='ignore'))


def _nonfinite_loss(tmp):
    """A real train step whose CWD loss is NaN (teacher logits NaN)."""
    from mmengine.logging import MessageHub
    from mmengine.optim import OptimWrapper
    model = _build(_cwd_model())
    with torch.no_grad():
        model.teacher.decode_head.conv_seg.bias.fill_(float('nan'))
    MessageHub.get_current_instance().update_info('iter', 6)
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    model.train_step(_batch(), optim)


def _crop_too_large(tmp):
    from mmseg_attnkd.engine.hooks.crop_size_check_hook import check_crop_size
    check_crop_size(_dataset(tmp, crop=(96, 80)))


def _stock_recorder_typo(tmp):
    _build(_cwd_model(s_source='decode_head.conv_sag',
                      algorithm='SingleTeacherDistill'))


def _attnfd_stage_typo(tmp):
    cfg = _cwd_model()
    cfg['distiller'] = dict(type='AttnFDDistiller',
                            stages=[('backbone.layer5', 'backbone.layer4')])
    _build(cfg)


def _attnfd_channels_no_align(tmp):
    from mmseg_attnkd.models import CBAMConnector
    CBAMConnector(16, 32, align=False)


def _axial_no_conv_seg(tmp):
    _build(dict(_scope_='mmrazor', type='SegSelfDistill',
                architecture=tiny_fcn_cfg(4, 4),
                distiller=dict(type='AxialSelfDistiller',
                               head='backbone')))


def _dataset_root_missing(tmp):
    from mmseg.registry import DATASETS
    DATASETS.build(dict(type='CheckedSegDataset',
                        data_root=str(tmp / 'no_data'),
                        data_prefix=dict(img_path='img_dir/train',
                                         seg_map_path='ann_dir/train'),
                        img_suffix='.png', seg_map_suffix='.png',
                        metainfo=dict(classes=('a', 'b')), pipeline=[]))


def _resume_missing(tmp):
    from tools.train import build_cfg, parse_args
    cfg = tmp / 'c.py'
    cfg.write_text('model = dict()\n')
    build_cfg(parse_args([str(cfg), '--resume', str(tmp / 'missing.pth')]))


CASES = [
    ('recorder-student', 'student recorder source is not a module '
     '(typo)', _recorder_typo_student, ValueError,
     ["source='decode_head.conv_sag'", 'not a module of the student',
      "Closest names: ['decode_head.conv_seg'"]),
    ('recorder-stock', 'same typo with MMRazor\'s SingleTeacherDistill '
     '(for comparison)', _stock_recorder_typo, AssertionError,
     ['"decode_head.conv_sag" is not in the model']),
    ('recorder-teacher', 'teacher recorder source is not a module',
     _recorder_typo_teacher, ValueError,
     ["teacher_recorders.logits", "'backbone.layer9'", 'backbone.layer1']),
    ('classes', 'teacher and student logits have different class counts '
     '(CWD on conv_seg)', _classes_differ, ValueError,
     ["'loss_cwd'", '(4 classes)', '(5 classes)', 'num_classes=5']),
    ('ckpt-missing', 'teacher_ckpt path does not exist', _ckpt_missing,
     FileNotFoundError, ['does not exist', 'set teacher_ckpt']),
    ('ckpt-empty', 'teacher_ckpt is an empty file', _ckpt_empty, ValueError,
     ['is empty (0 bytes)', 'fetch it again']),
    ('ckpt-truncated', 'teacher_ckpt is truncated (half a file)',
     _ckpt_truncated, ValueError, ['truncated', 'Re-download']),
    ('ckpt-unsafe', 'teacher_ckpt pickles arbitrary code',
     _ckpt_unsafe, UnsafeCheckpointError,
     ['refused to load', 'allow-list', 'UNSAFE']),
    ('ckpt-shape', 'teacher_ckpt is for another architecture (shapes '
     'differ)', _ckpt_wrong_arch, ValueError,
     ['does not fit the teacher', 'another shape', 'num_classes']),
    ('ckpt-keys', 'teacher_ckpt lacks > 10% of the teacher keys',
     _ckpt_keys_missing, ValueError,
     ['teacher weights are missing', 'teacher_ckpt_max_missing=10%',
      'first missing: backbone.layer4']),
    ('ckpt-kd', 'teacher_ckpt is a distillation checkpoint',
     _ckpt_is_distillation, ValueError,
     ['100%', 'convert_kd_ckpt_to_student.py']),
    ('ckpt-empty-state', 'teacher_ckpt has an empty state_dict',
     _ckpt_no_state, ValueError, ['holds no model weights']),
    ('max-missing', 'teacher_ckpt_max_missing outside [0, 1]',
     _bad_max_missing, ValueError, ['must be a fraction in [0, 1]']),
    ('policy', 'unknown nonfinite_loss policy', _bad_policy, ValueError,
     ["nonfinite_loss must be one of ('raise', 'skip')"]),
    ('nan-loss', 'a distillation loss is NaN/Inf during training',
     _nonfinite_loss, FloatingPointError,
     ['at iteration 7', 'distill.loss_cwd=nan', 'clip_grad',
      "nonfinite_loss='skip'"]),
    ('crop', 'RandomCrop crop_size larger than the training images',
     _crop_too_large, ValueError,
     ['crop_size=(96, 80)', '(64x64)', 'set crop_size <= (64, 64)']),
    ('attnfd-stage', 'AttnFD stage names a module the student lacks '
     '(AttnFDDistiller)', _attnfd_stage_typo, ValueError,
     ["no module named 'backbone.layer5'", 'backbone.layer4']),
    ('attnfd-align', 'AttnFD channels differ with align=False '
     '(CBAMConnector)', _attnfd_channels_no_align, ValueError,
     ['16 channels', '32', 'Set align=True']),
    ('axial-head', 'axial self-distillation on a module without conv_seg '
     '(AxialSelfDistiller)', _axial_no_conv_seg, ValueError,
     ['has no conv_seg', 'decode_head']),
    ('dataset-root', 'dataset root does not exist (CheckedSegDataset)',
     _dataset_root_missing, FileNotFoundError,
     ['does not exist', 'dataset_converters']),
    ('resume-path', '--resume with a missing file (tools/train.py)',
     _resume_missing, FileNotFoundError, ['no such checkpoint file']),
]


def _dataset(tmp, crop, resize=False):
    from mmseg.registry import DATASETS
    root = str(tmp / 'data')
    if not osp.isdir(root):
        generate_seg_dataset(root, num_train=2, num_val=1, size=(64, 64))
    cfg = synthetic_dataset_cfg(root)['train_dataloader']['dataset']
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    if resize:
        pipeline.append(dict(type='RandomResize', scale=(128, 128),
                             ratio_range=(0.5, 2.0), keep_ratio=True))
    pipeline += [dict(type='RandomCrop', crop_size=crop),
                 dict(type='PackSegInputs')]
    cfg.update(pipeline=pipeline)
    cfg['type'] = 'BaseSegDataset'
    from mmengine.registry import DefaultScope
    with DefaultScope.overwrite_default_scope('mmseg'):
        return DATASETS.build(cfg)


def _batch():
    data = dict(inputs=[torch.randint(0, 255, (3, 32, 32),
                                      dtype=torch.uint8) for _ in range(2)],
                data_samples=[])
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    for _ in range(2):
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 4, (1, 32, 32)))
        sample.set_metainfo(dict(img_shape=(32, 32), ori_shape=(32, 32),
                                 pad_shape=(32, 32)))
        data['data_samples'].append(sample)
    return data


def capture(trigger, tmp, exc_type):
    with pytest.raises(exc_type) as info:
        trigger(tmp)
    return str(info.value)


@pytest.mark.parametrize('case', CASES, ids=[c[0] for c in CASES])
def test_error_message(case, tmp_path):
    _, _, trigger, exc_type, fragments = case
    message = capture(trigger, tmp_path, exc_type)
    for fragment in fragments:
        assert fragment in message, f'{fragment!r} not in: {message}'


# --------------------------------------------------------------------------
# the accepted side of the same checks
# --------------------------------------------------------------------------
def test_teacher_ckpt_loaded_and_kept(tmp_path):
    """A matching file (+ extra keys, a few missing) loads and stays."""
    state = _teacher_state()
    kept = dict(state)
    kept.pop('decode_head.conv_seg.bias')  # 1 of ~100 keys: accepted
    kept['auxiliary_head.conv_seg.weight'] = torch.zeros(4, 4, 1, 1)
    path = _save(tmp_path / 't.pth', dict(state_dict=kept))
    model = _build(_cwd_model(teacher_ckpt=path))
    report = model.teacher_ckpt_report
    assert report.missing == ['decode_head.conv_seg.bias']
    assert report.unexpected == ['auxiliary_head.conv_seg.weight']
    model.init_weights()  # the Runner does this; must not overwrite
    for key, value in model.teacher.state_dict().items():
        if key in kept:
            assert torch.equal(value, kept[key]), key
    # the same file is refused with a stricter threshold
    with pytest.raises(ValueError, match='teacher_ckpt_max_missing=0%'):
        _build(_cwd_model(teacher_ckpt=path, teacher_ckpt_max_missing=0.0))


def test_nonfinite_skip_policy_leaves_weights(tmp_path):
    from mmengine.optim import OptimWrapper
    model = _build(_cwd_model(nonfinite_loss='skip'))
    optim = OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.1,
        momentum=0.9))
    bias = model.teacher.decode_head.conv_seg.bias
    with torch.no_grad():
        saved = bias.clone()
        bias.fill_(float('inf'))
    before = copy.deepcopy(model.architecture.state_dict())
    log_vars = model.train_step(_batch(), optim)
    assert model.nonfinite_skipped == 1
    assert float(log_vars['distill.loss_cwd']) == 0.0
    for key, value in model.architecture.state_dict().items():
        assert torch.equal(value, before[key]) or 'running' in key \
            or 'num_batches' in key, key
    # the next finite step trains normally
    with torch.no_grad():
        bias.copy_(saved)
    log_vars = model.train_step(_batch(), optim)
    assert math.isfinite(float(log_vars['loss']))
    moved = [k for k, v in model.architecture.named_parameters()
             if not torch.equal(v, before[k])]
    assert moved and model.nonfinite_skipped == 1


def test_nonfinite_loss_stops_runner_before_update(tmp_path):
    """End to end: the Runner stops at iteration 1 with the loss name."""
    from mmengine.runner import Runner
    from _reliability_helpers import attnfd_cfg
    root = str(tmp_path / 'data')
    generate_seg_dataset(root, num_train=2, num_val=1, size=(64, 64))
    cfg = attnfd_cfg(root, str(tmp_path / 'work'), max_iters=2)
    # finite as a Python float, but overflows float32 when multiplied
    cfg['model']['distiller']['loss_weight'] = 1e39
    cfg.pop('custom_imports')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(FloatingPointError,
                       match=r'at iteration 1: distill\.loss_attnfd_0=inf'):
        runner.train()
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())
    assert not osp.exists(osp.join(str(tmp_path / 'work'), 'iter_1.pth'))


def test_crop_check_with_resize_keeps_rng(tmp_path):
    """A resize before the crop makes small images legal; RNG untouched."""
    import random

    import numpy as np
    from mmseg_attnkd.engine.hooks.crop_size_check_hook import check_crop_size
    dataset = _dataset(tmp_path, crop=(96, 96), resize=True)
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    expected = (random.random(), np.random.rand(), torch.rand(1))
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    check_crop_size(dataset)  # must not raise
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected
    assert check_crop_size(_dataset(tmp_path, crop=(64, 64))) == []


def test_crop_hook_stops_runner_before_first_step(tmp_path):
    from mmengine.runner import Runner
    from _reliability_helpers import plain_cfg
    root = str(tmp_path / 'data')
    generate_seg_dataset(root, num_train=2, num_val=1, size=(64, 64))
    work_dir = str(tmp_path / 'work')
    cfg = plain_cfg(root, work_dir, max_iters=2)
    cfg.pop('custom_imports')
    cfg['train_dataloader']['dataset']['pipeline'].insert(
        2, dict(type='RandomCrop', crop_size=(65, 64)))
    cfg['custom_hooks'] = [dict(type='CropSizeCheckHook', num_samples=1)]
    runner = Runner.from_cfg(cfg)
    with pytest.raises(ValueError, match=r'crop_size=\(65, 64\)'):
        runner.train()
    assert runner.iter == 0
    assert not osp.exists(osp.join(work_dir, 'iter_1.pth'))


if __name__ == '__main__':  # print the table of docs/errors.md
    import tempfile
    from pathlib import Path
    print('| Bad input | Exception | Message |')
    print('|---|---|---|')
    for cid, what, trigger, exc_type, _ in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                trigger(Path(tmp))
            except exc_type as err:  # noqa: PERF203
                msg = str(err).replace(tmp, '<dir>')
                msg = msg.replace('|', '\\|').replace('\n', ' ')
                if isinstance(err, KeyError):
                    msg = msg.strip('"')
                print(f'| {what} | `{exc_type.__name__}` | {msg} |')
            else:
                raise SystemExit(f'{cid} did not raise')


def test_frozen_teacher_runs_in_eval_mode():
    """MMRazor freezes only the teacher's BN; ours keeps dropout off too,
    so the recorded teacher features are deterministic in training."""
    from mmengine.registry import DefaultScope
    from mmrazor.registry import MODELS
    from mmseg_attnkd.testing import tiny_deeplabv3plus_cfg
    student = tiny_deeplabv3plus_cfg(8, 4, (32, 32))
    teacher = tiny_deeplabv3plus_cfg(16, 4, (32, 32))
    teacher['decode_head']['dropout_ratio'] = 0.5
    with DefaultScope.overwrite_default_scope('mmrazor'):
        algo = MODELS.build(dict(
            type='SegSingleTeacherDistill', architecture=student,
            teacher=teacher, distiller=dict(type='AttnFDDistiller',
                                            stages='auto')))
    algo.train()
    assert algo.student.training
    assert not any(m.training for m in algo.teacher.modules())
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        a = algo.teacher(x, mode='tensor')
        b = algo.teacher(x, mode='tensor')
    assert torch.equal(a, b)
