# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Every bad input gets a clear error naming the problem and the fix.

Each case builds the real component with one thing wrong and checks the
exception type and the key parts of its message; the command-line cases
(``CLI_CASES``) run the dataset converter tools and check that a bad input
ends in one line on stderr and a non-zero exit status. ``python
tests/test_reliability/test_errors.py --write docs/errors.md`` regenerates
the tables of ``docs/errors.md`` from the messages these cases actually
produce (without ``--write`` it prints them).
"""
import copy
import math
import os
import os.path as osp
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
# the tests' shared helpers, also when run as the docs/errors.md generator
sys.path.insert(0, osp.join(REPO, 'tests'))

import mmseg_attnkd  # noqa: E402,F401
import mmseg_attnkd.engine  # noqa: E402,F401
from mmseg_attnkd.testing import (generate_seg_dataset,  # noqa: E402
                                  synthetic_dataset_cfg, tiny_fcn_cfg)
from mmseg_attnkd.utils import UnsafeCheckpointError  # noqa: E402

from _pickle_payloads import FileCreatingPayload  # noqa: E402
from _tools_helpers import load_tool  # noqa: E402


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


def _teacher_precision_unknown(tmp):
    _build(_cwd_model(teacher_precision='int8'))


def _teacher_precision_trainable(tmp):
    _build(_cwd_model(teacher_precision='bf16', teacher_trainable=True))


def _logit_source_typo(tmp):
    _build(dict(
        _scope_='mmrazor', type='SegSingleTeacherDistill',
        architecture=tiny_fcn_cfg(4, 4), teacher=tiny_fcn_cfg(8, 4),
        distiller=dict(type='StageDistiller', stages=['backbone.layer4'],
                       loss=dict(type='ATLoss'), loss_name='loss_at',
                       logit_loss=dict(type='KLDivergence'),
                       logit_source='decode_head.conv_sag')))


def _kl_tau_zero(tmp):
    from mmseg_attnkd.models.losses import SelfDistillKLLoss
    SelfDistillKLLoss(tau=0)


def _label_smoothing_one(tmp):
    from mmseg_attnkd.models.losses import LabelSmoothCrossEntropyLoss
    LabelSmoothCrossEntropyLoss(label_smoothing=1.0)


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
                                        x=FileCreatingPayload(marker)))
    try:
        _build(_cwd_model(teacher_ckpt=path))
    finally:
        assert not osp.exists(marker), 'the pickle payload was executed'


class _BigBytes:
    """``bytes(10**12)`` would allocate 1 TB while unpickling."""

    def __reduce__(self):
        return (bytes, (10**12, ))


def _ckpt_bytes_call(tmp):
    path = _save(tmp / 'bytes.pth', dict(state_dict=_teacher_state(),
                                          extra=_BigBytes()))
    _build(_cwd_model(teacher_ckpt=path))


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
    model = _build(_cwd_model(nonfinite_loss='raise'))
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
                            teacher_attention='random',
                            stages=[('backbone.layer5', 'backbone.layer4')])
    _build(cfg)


def _attnfd_no_fitted_file(tmp):
    cfg = _cwd_model()
    cfg['distiller'] = dict(type='AttnFDDistiller', stages='auto')
    torch.manual_seed(0)  # the teacher's digest names the place (docs)
    cwd = os.getcwd()
    os.chdir(tmp)  # the default place is relative: no earlier fit here
    try:
        _build(cfg)
    finally:
        os.chdir(cwd)


def _attnfd_fitted_file_missing(tmp):
    cfg = _cwd_model()
    cfg['distiller'] = dict(type='AttnFDDistiller', stages='auto',
                            teacher_attention_ckpt=str(tmp / 'fit.pth'))
    _build(cfg)


def _attnfd_channels_no_align(tmp):
    from mmseg_attnkd.models import CBAMConnector
    CBAMConnector(16, 32, align=False)


def _axial_no_conv_seg(tmp):
    _build(dict(_scope_='mmrazor', type='SegSelfDistill',
                architecture=tiny_fcn_cfg(4, 4),
                distiller=dict(type='AxialSelfDistiller',
                               head='backbone')))


def _unknown_model_type(tmp):
    arch = tiny_fcn_cfg(4, 4)
    arch.pop('_scope_')
    arch['type'] = 'EncoderDecodr'
    _build(dict(_scope_='mmrazor', type='SegSelfDistill', architecture=arch,
                distiller=dict(type='AxialSelfDistiller')))


def _axial_over_budget(tmp):
    from mmseg_attnkd.models import AxialConnector
    conn = AxialConnector(4, stride=1, memory_budget_gb=0.05, channels=8,
                          num_heads=2)
    conn.train()
    conn(torch.zeros(2, 4, 128, 128))


def _stage_sizes_differ(tmp):
    from mmseg_attnkd.testing import tiny_deeplabv3plus_cfg
    _build(dict(_scope_='mmrazor', type='SegSingleTeacherDistill',
                architecture=tiny_fcn_cfg(4, 4),
                teacher=tiny_deeplabv3plus_cfg(8, 4),
                distiller=dict(type='StageDistiller',
                               stages=['decode_head.conv_seg'],
                               loss=dict(type='ChannelWiseDivergence',
                                         tau=1, loss_weight=5))))


def _axial_stock(rel_path, **distiller):
    from mmseg_attnkd.testing.family_matrix import load_stock_model
    _build(dict(_scope_='mmrazor', type='SegSelfDistill',
                architecture=load_stock_model(rel_path),
                distiller=dict(type='AxialSelfDistiller', **distiller)))


def _axial_points(tmp):
    _axial_stock('point_rend/pointrend_r50_4xb4-160k_ade20k-512x512.py',
                 head='decode_head.1')


def _axial_knet(tmp):
    _axial_stock('knet/knet-s3_r50-d8_fcn_8xb2-adamw-80k_ade20k-512x512.py')


def _dataset_root_missing(tmp):
    from mmseg.registry import DATASETS
    DATASETS.build(dict(type='CheckedSegDataset',
                        data_root=str(tmp / 'no_data'),
                        data_prefix=dict(img_path='img_dir/train',
                                         seg_map_path='ann_dir/train'),
                        img_suffix='.png', seg_map_suffix='.png',
                        metainfo=dict(classes=('a', 'b')), pipeline=[]))


def _resume_missing(tmp):
    train = load_tool('train.py')
    cfg = tmp / 'c.py'
    cfg.write_text('model = dict()\n')
    train.build_cfg(
        train.parse_args([str(cfg), '--resume', str(tmp / 'missing.pth')]))


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
    ('ckpt-bytes', 'teacher_ckpt pickles bytes(n) (only the bytes() of '
     'empty numpy data is allowed)', _ckpt_bytes_call, UnsafeCheckpointError,
     ['refused to load', 'bytes']),
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
     ["nonfinite_loss must be one of (None, 'raise', 'skip')"]),
    ('nan-loss', 'a distillation loss is NaN/Inf during training '
     "(nonfinite_loss='raise')",
     _nonfinite_loss, FloatingPointError,
     ['at iteration 7', 'distill.loss_cwd=nan', 'clip_grad',
      "nonfinite_loss='skip'"]),
    ('crop', 'RandomCrop crop_size larger than the training images',
     _crop_too_large, ValueError,
     ['crop_size=(96, 80)', '(64x64)', 'set crop_size <= (64, 64)']),
    ('attnfd-stage', 'AttnFD stage names a module the student lacks '
     '(AttnFDDistiller)', _attnfd_stage_typo, ValueError,
     ["no module named 'backbone.layer5'", 'backbone.layer4']),
    ('attnfd-fit', "AttnFD's default fitted teacher attention, not fitted "
     'yet for this teacher and stages (AttnFDDistiller)',
     _attnfd_no_fitted_file, FileNotFoundError,
     ['found no fit of this teacher and these stages',
      'work_dirs/fit_teacher_attention/', 'tools/fit_teacher_attention.py',
      "'parameter_free'"]),
    ('attnfd-fit-missing', 'the fitted teacher-attention file does not '
     'exist yet (AttnFDDistiller)', _attnfd_fitted_file_missing,
     FileNotFoundError,
     ['does not exist; fit it first', 'tools/fit_teacher_attention.py',
      'teacher_attention_ckpt=None']),
    ('attnfd-align', 'AttnFD channels differ with align=False '
     '(CBAMConnector)', _attnfd_channels_no_align, ValueError,
     ['16 channels', '32', 'Set align=True']),
    ('axial-head', 'axial self-distillation on a module without conv_seg '
     '(AxialSelfDistiller)', _axial_no_conv_seg, ValueError,
     ['has no conv_seg', 'decode_head']),
    ('model-type', 'a model dict without _scope_ names a type that neither '
     'MMRazor nor MMSeg registers (SegSelfDistill, SegSingleTeacherDistill)',
     _unknown_model_type, KeyError,
     ["architecture.type='EncoderDecodr'", "_scope_='mmseg'", 'cfg_path']),
    ('axial-memory', 'the axial block would need more memory than '
     'axial.memory_budget_gb at the configured stride (AxialConnector)',
     _axial_over_budget, ValueError,
     ['GiB at stride=1', 'distiller.axial.stride=2', 'memory_budget_gb']),
    ('stage-sizes', 'CWD between logits at output strides 8 and 4, no '
     'connector (StageDistiller)', _stage_sizes_differ, ValueError,
     ['8x8 student map and a 16x16 teacher map',
      'ChannelWiseDivergence cannot compare', 'student_connector']),
    ('axial-points', "axial self-distillation on PointRend's point head "
     "(head='decode_head.1'; by default the coarse stage is used)",
     _axial_points, ValueError,
     ['(PointHead) predicts logits of sampled points',
      "distiller.head='decode_head.0'"]),
    ('axial-knet', 'axial self-distillation on stock K-Net (a list of '
     'stage logits)', _axial_knet, ValueError,
     ['(IterativeDecodeHead) returns a list of stage logits']),
    ('dataset-root', 'dataset root does not exist (CheckedSegDataset)',
     _dataset_root_missing, FileNotFoundError,
     ['does not exist', 'dataset_converters']),
    ('resume-path', '--resume with a missing file (tools/train.py)',
     _resume_missing, FileNotFoundError, ['no such checkpoint file']),
    ('teacher-precision', 'teacher_precision is not a precision '
     '(SegSingleTeacherDistill)', _teacher_precision_unknown, ValueError,
     ["teacher_precision='int8' is not a precision", "'bf16'"]),
    ('teacher-precision-trainable', "teacher_precision='bf16' with a "
     'trainable teacher', _teacher_precision_trainable, ValueError,
     ['needs a frozen teacher', 'teacher_trainable=False']),
    ('logit-source', 'logit_loss recorded at a module the model lacks '
     '(StageDistiller)', _logit_source_typo, ValueError,
     ['no module "decode_head.conv_sag" for logit_loss', 'conv_seg',
      'logit_source']),
    ('kl-tau', 'SelfDistillKLLoss with tau <= 0', _kl_tau_zero, ValueError,
     ['tau must be > 0']),
    ('label-smoothing', 'LabelSmoothCrossEntropyLoss with eps outside '
     '[0, 1)', _label_smoothing_one, ValueError, ['must lie in [0, 1)']),
]


# --------------------------------------------------------------------------
# command-line tools: a bad input ends in one line on stderr and exit
# status 1 (2 for a bad option), never a traceback
# --------------------------------------------------------------------------
CONVERTERS = osp.join(REPO, 'tools', 'dataset_converters')


def _tool(name):
    return load_tool(f'dataset_converters/{name}.py')


def _fixtures():
    sys.path.insert(0, osp.join(REPO, 'tests', 'test_datasets'))
    import _dataset_fixtures
    return _dataset_fixtures


def _png(path, array):
    import os

    from PIL import Image
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def _camvid(tmp):
    return _fixtures().write_segnet_camvid(str(tmp / 'CamVid'), num_train=2,
                                           num_val=1)


def _sstem(tmp):
    return _fixtures().write_sstem(str(tmp / 'stack1'), sections=range(4))


def _semiseg(tmp, mask=None, mask_name='0.png', image_size=(16, 16)):
    import numpy as np
    root = str(tmp / 'MultiClassInfection-Train')
    _png(osp.join(root, 'Imgs', '0.jpg'), np.zeros(image_size, np.uint8))
    if mask is None:
        mask = np.zeros((16, 16), np.uint8)
    _png(osp.join(root, 'GT', mask_name), mask)
    return root


def _colour_mask():
    import numpy as np
    mask = np.zeros((16, 16, 3), np.uint8)
    mask[:8, :, 0] = 255
    return mask


def _binary_mask():
    import numpy as np
    mask = np.zeros((16, 16), np.uint8)
    mask[4:8, 4:8] = 255
    return mask


def _out(tmp):
    return ['--out-dir', str(tmp / 'out')]


def _tmp_root(*options):
    """Converter arguments: the (empty) test folder as ``--data-root``,
    then ``options``."""
    return lambda t: ['--data-root', str(t), *options] + _out(t)


def _file(tmp):
    path = tmp / 'a_file'
    path.write_text('x')
    return str(path)


def _with_png(tmp, make_root, rel_path, shape, value):
    """Arguments of a converter run on a generated raw dataset in which the
    PNG ``rel_path`` is replaced by (or added as) one of ``value`` only."""
    import numpy as np
    root = make_root(tmp)
    _png(osp.join(root, rel_path), np.full(shape, value, np.uint8))
    return ['--data-root', root] + _out(tmp)


def _camvid_bad_label(tmp):
    return _with_png(tmp, _camvid, 'trainannot/seq0_000000.png', (48, 64), 40)


def _camvid_no_label(tmp):
    import os
    root = _camvid(tmp)
    os.remove(osp.join(root, 'trainannot', 'seq1_000001.png'))
    return ['--data-root', root] + _out(tmp)


def _camvid_corrupt_image(tmp):
    root = _camvid(tmp)
    with open(osp.join(root, 'train', 'seq0_000000.png'), 'wb') as f:
        f.write(b'not a png')
    return ['--data-root', root] + _out(tmp)


def _sstem_bad_grey(tmp):
    return _with_png(tmp, _sstem, 'labels/labels00000001.png', (64, 64), 7)


def _medseg_no_mask(tmp):
    # an image without its mask: a second, black slice
    return _with_png(tmp, _semiseg, 'Imgs/1.jpg', (16, 16), 0)


def _check_bad_labels(tmp):
    import numpy as np
    root = str(tmp / 'data')
    generate_seg_dataset(root, num_train=2, num_val=1, size=(32, 32))
    _png(osp.join(root, 'ann_dir', 'train', '0001.png'),
         np.full((32, 32), 17, np.uint8))
    return ['--type', 'CamVidDataset', '--data-root', root, '--splits',
            'train']


#: (id, bad input, tool, argv(tmp), exit status, message fragments)
CLI_CASES = [
    ('camvid-root', 'CamVid: --data-root does not exist', 'camvid',
     lambda t: ['--data-root', str(t / 'nope')] + _out(t), 1,
     ['does not exist', 'pass the SegNet "CamVid" folder']),
    ('camvid-wrong-root', 'CamVid: --data-root is not the SegNet folder',
     'camvid', _tmp_root(), 1,
     ['No CamVid split', 'as --data-root']),
    ('camvid-split', 'CamVid: --splits names a split the release lacks',
     'camvid', lambda t: ['--data-root', _camvid(t), '--splits', 'tst']
     + _out(t), 1, ["split 'tst' not found", '(train val)']),
    ('camvid-label-missing', 'CamVid: an image has no label', 'camvid',
     _camvid_no_label, 1, ['have no label', 'seq1_000001.png']),
    ('camvid-label-values', 'CamVid: a label holds values outside 0..11',
     'camvid', _camvid_bad_label, 1, ['[40]', 'SegNet CamVid labels']),
    ('camvid-corrupt', 'CamVid: an image file is damaged', 'camvid',
     _camvid_corrupt_image, 1, ['cannot identify image file',
                                're-export it or remove it']),
    ('camvid-scale', 'CamVid: --scale 0', 'camvid',
     _tmp_root('--scale', '0'), 2,
     ['--scale', 'not a finite number > 0']),
    ('camvid-limit', 'CamVid: --limit-val 0', 'camvid',
     _tmp_root('--limit-val', '0'), 2,
     ['--limit-val', 'pass a whole number > 0']),
    ('camvid-limit-split', 'CamVid: --limit-test for a split not in --splits',
     'camvid', lambda t: ['--data-root', _camvid(t), '--splits', 'train',
                          '--limit-test', '1'] + _out(t), 1,
     ['drop those --limit-<split> options']),
    ('camvid-out-file', 'CamVid: --out-dir is an existing file', 'camvid',
     lambda t: ['--data-root', _camvid(t), '--out-dir', _file(t)], 1,
     ['is a file, not a folder', 'pass a folder path']),
    ('camvid-args', 'CamVid: a required option is missing', 'camvid',
     lambda t: ['--data-root', str(t)], 2,
     ['required: --out-dir', '--help']),
    ('sstem-root', 'ssTEM: --data-root has no raw/ folder',
     'drosophila_sstem', _tmp_root(), 1,
     ['No raw/ folder', '--data-root must hold']),
    ('sstem-sections', 'ssTEM: --train-sections is not a range',
     'drosophila_sstem', lambda t: ['--data-root', _sstem(t),
                                    '--train-sections', '0-x'] + _out(t), 1,
     ["Cannot parse '0-x'", 'ranges and commas']),
    ('sstem-overlap', 'ssTEM: a section in two splits', 'drosophila_sstem',
     lambda t: ['--data-root', _sstem(t), '--train-sections', '0-2',
                '--test-sections', '2-3'] + _out(t), 1,
     ['[2]', 'disjoint']),
    ('sstem-tile', 'ssTEM: --tile larger than the sections',
     'drosophila_sstem', lambda t: ['--data-root', _sstem(t),
                                    '--train-sections', '0-1',
                                    '--test-sections', '2-3', '--tile',
                                    '1000'] + _out(t), 1,
     ['exceeds the image size', 'Pass a smaller --tile']),
    ('sstem-tile-zero', 'ssTEM: --tile 0', 'drosophila_sstem',
     _tmp_root('--tile', '0'), 2,
     ['--tile', 'pass a whole number > 0']),
    ('sstem-grey', 'ssTEM: a label with a grey value that is no class',
     'drosophila_sstem', _sstem_bad_grey, 1,
     ['grey values [7]', 'original label PNGs']),
    ('medseg-root', 'MedSeg: --data-root does not exist', 'medseg_covid',
     lambda t: ['--data-root', str(t / 'nope')] + _out(t), 1,
     ['does not exist', 'pass the folder holding']),
    ('medseg-folders', 'MedSeg slices: image/mask folders under other '
     'names', 'medseg_covid',
     _tmp_root(), 1,
     ['does not exist', '--img-dir and --mask-dir']),
    ('medseg-layout', 'MedSeg slices: --layout medseg on COVID-SemiSeg '
     'folders (Imgs/, GT/)', 'medseg_covid',
     lambda t: ['--data-root', _semiseg(t), '--layout', 'medseg'] + _out(t),
     1, ["holds the folders ['GT', 'Imgs']", '--layout semiseg']),
    ('medseg-img-dir', 'MedSeg slices: --img-dir does not exist',
     'medseg_covid', lambda t: ['--data-root', _semiseg(t), '--img-dir',
                                'ct', '--mask-dir', 'GT'] + _out(t), 1,
     ['/ct', 'does not exist', '--img-dir']),
    ('medseg-no-mask', 'MedSeg slices: an image without a mask',
     'medseg_covid', _medseg_no_mask, 1,
     ['have no mask', '1.jpg', 'same file name stem']),
    ('medseg-colour', 'MedSeg slices: a colour (RGB) mask', 'medseg_covid',
     lambda t: ['--data-root', _semiseg(t, mask=_colour_mask())] + _out(t),
     1, ['colour (RGB) mask', 'grey or palette PNG']),
    ('medseg-jpeg-mask', 'MedSeg slices: JPEG masks', 'medseg_covid',
     lambda t: ['--data-root', _semiseg(t, mask_name='0.jpg')] + _out(t), 1,
     ['JPEG mask', 'export the masks as PNG']),
    ('medseg-binary', 'MedSeg slices: binary 0/255 infection masks '
     '(COVID-SemiSeg LungInfection)', 'medseg_covid',
     lambda t: ['--data-root', _semiseg(t, mask=_binary_mask())] + _out(t),
     1, ['[255]', 'binary infection mask', 'MultiClassInfection']),
    ('medseg-size', 'MedSeg slices: image and mask sizes differ',
     'medseg_covid', lambda t: ['--data-root', _semiseg(
         t, image_size=(16, 20))] + _out(t), 1, ['same size']),
    ('medseg-val-cases', 'MedSeg: --val-cases with slice folders',
     'medseg_covid', lambda t: ['--data-root', _semiseg(t), '--val-cases',
                                'rp1'] + _out(t), 1,
     ['NIfTI input only', '--split']),
    ('medseg-nifti-options', 'MedSeg: --img-dir with --format nifti',
     'medseg_covid', _tmp_root('--format', 'nifti', '--img-dir', 'x'), 1,
     ['only for slice folders', '--format slices']),
    ('medseg-window', 'MedSeg: --window-width 0', 'medseg_covid',
     _tmp_root('--window-width', '0'), 2,
     ['--window-width', 'not a finite number > 0']),
    ('medseg-val-every', 'MedSeg: --val-every -1', 'medseg_covid',
     _tmp_root('--val-every', '-1'), 2,
     ['--val-every', 'is negative']),
    ('check-config', 'check_dataset: --config does not exist',
     'check_dataset', lambda t: ['--config', str(t / 'nope.py')], 1,
     ['does not exist', 'pass the path of a config file']),
    ('check-type', 'check_dataset: --type is not a dataset',
     'check_dataset', lambda t: ['--type', 'CamVid', '--data-root', str(t)],
     1, ["'CamVid' is not a registered dataset", 'CamVidDataset']),
    ('check-args', 'check_dataset: neither --config nor --type',
     'check_dataset', lambda t: [], 1, ['give --config CONFIG']),
    ('check-labels', 'check_dataset: a label outside the classes',
     'check_dataset', _check_bad_labels, 1, ['[train] FAILED', '[17]']),
]


def run_cli_case(case, tmp):
    """Run one CLI case in this process; return (exit status, stderr)."""
    import contextlib
    import io
    _, _, tool, make_argv, _, _ = case
    argv = make_argv(tmp)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), \
            contextlib.redirect_stdout(io.StringIO()):
        try:
            _tool(tool).main(argv)
        except SystemExit as exc:
            return exc.code, err.getvalue()
    return 0, err.getvalue()


@pytest.mark.parametrize('case', CLI_CASES, ids=[c[0] for c in CLI_CASES])
def test_cli_error_message(case, tmp_path):
    _, _, tool, _, status, fragments = case
    code, err = run_cli_case(case, tmp_path)
    lines = err.strip().splitlines()
    assert code == status, err
    assert len(lines) == 1, err  # one line, no traceback
    assert lines[0].startswith(f'{tool}.py: error: '), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], f'{fragment!r} not in: {lines[0]}'


def test_cli_error_in_a_real_process(tmp_path, subprocess_env):
    """The issue's case end to end: COVID-SemiSeg folders without
    --layout medseg's names, run as a script: one line, status 1."""
    import subprocess
    root = _semiseg(tmp_path)
    out = subprocess.run(
        [sys.executable, osp.join(CONVERTERS, 'medseg_covid.py'),
         '--data-root', root, '--layout', 'medseg', '--out-dir',
         str(tmp_path / 'out')], env=subprocess_env, capture_output=True,
        text=True, timeout=300)
    assert out.returncode == 1
    assert 'Traceback' not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and '--layout semiseg' in lines[0], out.stderr


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


def test_nonfinite_loss_hook_stops_runner_before_checkpoint(tmp_path):
    """End to end: NonFiniteLossHook stops the Runner at iteration 1 with
    the loss name, before that step is checkpointed."""
    from mmengine.runner import Runner
    from _reliability_helpers import attnfd_cfg
    root = str(tmp_path / 'data')
    generate_seg_dataset(root, num_train=2, num_val=1, size=(64, 64))
    cfg = attnfd_cfg(root, str(tmp_path / 'work'), max_iters=2)
    # finite as a Python float, but overflows float32 when multiplied
    cfg['model']['distiller']['loss_weight'] = 1e39
    cfg['default_hooks']['checkpoint']['interval'] = 1
    cfg['custom_hooks'] = [dict(type='NonFiniteLossHook')]
    cfg.pop('custom_imports')
    runner = Runner.from_cfg(cfg)
    with pytest.raises(FloatingPointError,
                       match=r'at iteration 1: distill\.loss_attnfd_0=inf, '
                       r'.*Training stopped before this step was logged or '
                       r'checkpointed'):
        runner.train()
    assert not osp.exists(osp.join(str(tmp_path / 'work'), 'iter_1.pth'))


def test_nonfinite_hook_reads_logged_values_only():
    """The hook checks the floats RuntimeInfoHook logged (no tensor is
    read), every ``interval`` iterations, and only ``loss`` entries."""
    from types import SimpleNamespace

    from mmengine.logging import MessageHub
    from mmseg_attnkd.engine import NonFiniteLossHook
    hub = MessageHub.get_instance('nonfinite-hook-test')
    hub.update_scalar('train/loss', float('nan'))
    hub.update_scalar('train/acc_seg', float('nan'))
    runner = SimpleNamespace(message_hub=hub, iter=2)
    outputs = dict(loss=object(), acc_seg=object())  # never converted
    NonFiniteLossHook(interval=2).after_train_iter(runner, 0, None, outputs)
    with pytest.raises(FloatingPointError,
                       match=r'at iteration 3: loss=nan\. Training stopped'):
        NonFiniteLossHook().after_train_iter(runner, 0, None, outputs)
    with pytest.raises(ValueError, match='interval must be >= 1'):
        NonFiniteLossHook(interval=0)


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


def _cell(text: str, tmp: str) -> str:
    text = text.replace(tmp, '<dir>').replace('|', '\\|')
    return ' '.join(text.split())


def render_tables() -> str:
    """The two message tables of docs/errors.md, from the cases above."""
    import tempfile
    from pathlib import Path
    lines = ['### Training, checkpoints and datasets', '',
             '| Bad input | Exception | Message |', '|---|---|---|']
    for cid, what, trigger, exc_type, _ in CASES:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                trigger(Path(tmp))
            except exc_type as err:  # noqa: PERF203
                msg = str(err)
                if isinstance(err, KeyError):
                    msg = msg.strip('"')
                lines.append(f'| {what} | `{exc_type.__name__}` | '
                             f'{_cell(msg, tmp)} |')
            else:
                raise SystemExit(f'{cid} did not raise')
    lines += ['', '### Command-line tools (dataset converters)', '',
              'Each prints one line on stderr and exits with the status '
              'shown (2: a bad option, as argparse; 1: a bad input).', '',
              '| Bad input | Exit | Message (stderr) |', '|---|:---:|---|']
    for case in CLI_CASES:
        with tempfile.TemporaryDirectory() as tmp:
            code, err = run_cli_case(case, Path(tmp))
            if code == 0:
                raise SystemExit(f'{case[0]} did not fail')
            lines.append(f'| {case[1]} | {code} | `{_cell(err, tmp)}` |')
    return '\n'.join(lines) + '\n'


START, END = '<!-- errors:start -->', '<!-- errors:end -->'


if __name__ == '__main__':  # the tables of docs/errors.md
    import argparse
    parser = argparse.ArgumentParser(
        description='Print the message tables of docs/errors.md, or write '
        'them between its markers with --write.')
    parser.add_argument('--write', metavar='DOC',
                        help='e.g. docs/errors.md: replace the part between '
                        f'{START} and {END}')
    cli_args = parser.parse_args()
    tables = render_tables()
    if not cli_args.write:
        print(tables, end='')
    else:
        import re

        from mmseg_attnkd.release.markdown_blocks import rewrite_blocks
        with open(cli_args.write, encoding='utf-8') as f:
            if START not in f.read():
                raise SystemExit(f'{cli_args.write} has no {START} ... {END}')
        rewrite_blocks(cli_args.write, re.escape(START), END,
                       lambda _: tables)
        print(f'wrote {cli_args.write}')


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
                                            stages='auto',
                                            teacher_attention='random')))
    algo.train()
    assert algo.student.training
    assert not any(m.training for m in algo.teacher.modules())
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        a = algo.teacher(x, mode='tensor')
        b = algo.teacher(x, mode='tensor')
    assert torch.equal(a, b)
