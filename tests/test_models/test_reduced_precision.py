# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Reduced precision: a bf16 teacher, every shipped distiller under bf16
autocast, teacher BN on batch statistics.

CPU autocast (bf16) stands for MMEngine's ``AmpOptimWrapper``, which CPU
MMEngine refuses: the wrapper runs the algorithm's ``loss`` under autocast,
as these tests do.
"""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.testing import seg_batch, tiny_deeplabv3plus_cfg
from mmseg_attnkd.utils.precision import (autocast_disabled, check_precision,
                                          to_float32)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NUM_CLASSES, CROP = 4, (32, 32)


def _shipped(folder):
    return sorted(glob.glob(osp.join(REPO, 'configs', folder, '*.py')))


def _distiller_of(path):
    """The shipped config's distiller, runnable on tiny models."""
    distiller = Config.fromfile(path).model.distiller.to_dict()
    if 'AttnFD' in distiller.get('type', ''):
        # no fitted file in a test: the same compute with a random CBAM
        distiller.update(teacher_attention='random',
                         teacher_attention_ckpt=None)
    if distiller.get('type') in ('StageDistiller', 'AttnFDDistiller',
                                 'AttnFDAxialDistiller'):
        distiller['probe_input_size'] = CROP
    return distiller


def _first(folder, prefix):
    return next(p for p in _shipped(folder)
                if osp.basename(p).startswith(prefix))


#: One shipped config per distiller the package ships.
SHIPPED = {
    **{osp.basename(p).split('_')[0]: p for p in _shipped('feature_kd')},
    'attnfd': _first('attnfd', 'attnfd_deeplabv3plus-r101-d8_deeplabv3plus'
                     '-r18-d8_4xb2-40k_camvid'),
    'attnfd_axial_sd': _shipped('attnfd_axial_sd')[0],
    'axial_sd': _first('axial_sd', 'axial-sd_deeplabv3plus'),
}


def _build(path_or_distiller, **algo_kwargs):
    from mmrazor.registry import MODELS
    distiller = _distiller_of(path_or_distiller) \
        if isinstance(path_or_distiller, str) else path_or_distiller
    torch.manual_seed(0)
    student = tiny_deeplabv3plus_cfg(8, NUM_CLASSES, CROP)
    if distiller['type'] == 'AxialSelfDistiller':
        cfg = dict(type='SegSelfDistill', architecture=student,
                   distiller=distiller, **algo_kwargs)
    else:
        cfg = dict(type='SegSingleTeacherDistill', architecture=student,
                   teacher=tiny_deeplabv3plus_cfg(16, NUM_CLASSES, CROP),
                   distiller=distiller, **algo_kwargs)
    return MODELS.build(dict(_scope_='mmrazor', **cfg)).train()


def test_every_shipped_distiller_is_covered():
    assert sorted(SHIPPED) == [
        'at', 'attnfd', 'attnfd_axial_sd', 'axial_sd', 'cwd', 'dist', 'kd',
        'mgd', 'ofd', 'pkd']


@pytest.mark.parametrize('method', sorted(SHIPPED))
def test_trains_two_iterations_under_bf16_autocast(method):
    algo = _build(SHIPPED[method])
    params = [p for p in algo.parameters() if p.requires_grad]
    before = [p.detach().clone() for p in params]
    optim = torch.optim.SGD(params, lr=0.01)
    for it in range(2):
        inputs, samples = seg_batch(algo, NUM_CLASSES, 2, CROP[0], it)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            losses = algo.loss(inputs, samples)
        distill = {k: v for k, v in losses.items()
                   if k.startswith('distill.') and 'loss' in k}
        assert distill, losses.keys()
        for name, value in distill.items():
            # every distillation loss is computed in fp32
            assert value.dtype == torch.float32, (name, value.dtype)
            assert torch.isfinite(value).all(), name
        loss, _ = algo.parse_losses(losses)
        optim.zero_grad()
        loss.backward()
        optim.step()
    moved = sum(not torch.equal(b, p.detach())
                for b, p in zip(before, params))
    assert moved > len(params) // 2  # the student (and connectors) trained


def _conv_dtypes(model):
    seen = []
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            m.register_forward_hook(lambda mod, a, out: seen.append(out.dtype))
    return seen


@pytest.mark.parametrize('method', ['attnfd', 'cwd'])
def test_bf16_teacher_records_fp32_tensors_of_the_same_shapes(method):
    exact = _build(SHIPPED[method])
    fast = _build(SHIPPED[method], teacher_precision='bf16')
    assert fast.teacher_precision == 'bf16'
    teacher_dtypes = _conv_dtypes(fast.teacher)
    student_dtypes = _conv_dtypes(fast.student)
    inputs, samples = seg_batch(exact, NUM_CLASSES, 2, CROP[0], 0)
    records = {}
    for name, algo in (('exact', exact), ('fast', fast)):
        losses = algo.loss(inputs, samples)
        mgr = algo.distiller.teacher_recorders
        records[name] = ({k: r.data_buffer[0]
                          for k, r in mgr.recorders.items()}, losses)
    assert set(teacher_dtypes) == {torch.bfloat16}  # the teacher ran in bf16
    assert set(student_dtypes) == {torch.float32}  # the student did not
    (want, want_losses), (got, got_losses) = records['exact'], records['fast']
    assert want.keys() == got.keys() and want
    for key in want:
        assert got[key].dtype == torch.float32
        assert got[key].shape == want[key].shape
        # bf16 keeps 8 bits of mantissa: close, not equal
        scale = want[key].abs().max().clamp_min(1e-6)
        err = (got[key] - want[key]).abs().max() / scale
        assert 0 < err < 0.1, (key, float(err))
    for key, value in want_losses.items():
        if key.startswith('distill.'):
            assert got_losses[key].dtype == torch.float32
            torch.testing.assert_close(got_losses[key], value, rtol=0.15,
                                       atol=1e-3)
    assert 'forward' not in vars(fast.teacher)  # the patch is undone


def test_teacher_precision_is_checked_in_one_line():
    with pytest.raises(ValueError, match=r"teacher_precision='int8'.*bf16"):
        _build(SHIPPED['cwd'], teacher_precision='int8')
    with pytest.raises(ValueError, match='needs a frozen teacher'):
        _build(SHIPPED['cwd'], teacher_precision='bf16',
               teacher_trainable=True)
    assert check_precision('fp16', 'X', 'p') == 'fp16'


def test_auto_precision_is_bf16_only_where_it_was_measured(tmp_path,
                                                          monkeypatch):
    from mmseg_attnkd.utils import precision
    flags = tmp_path / 'cpuinfo'
    flags.write_text('flags\t: fpu sse2 avx512f avx512_bf16 avx512_vnni\n')
    assert precision.native_cpu_bf16.__wrapped__(str(flags))
    flags.write_text('flags\t: fpu sse2 avx2 avx512f\n')
    assert not precision.native_cpu_bf16.__wrapped__(str(flags))
    assert not precision.native_cpu_bf16.__wrapped__(str(tmp_path / 'no'))
    for native, want in ((True, 'bf16'), (False, 'fp32')):
        monkeypatch.setattr(precision, 'native_cpu_bf16', lambda: native)
        assert precision.resolve_precision('auto', 'cpu') == want
        # not measured on CUDA: fp32 there; explicit values stay
        assert precision.resolve_precision('auto', 'cuda') == 'fp32'
        assert precision.resolve_precision('fp16', 'cpu') == 'fp16'
        algo = _build(SHIPPED['attnfd'], teacher_precision='auto')
        assert algo.teacher_precision == 'auto'
        assert algo.pass_precision() == want
        teacher_dtypes = _conv_dtypes(algo.teacher)
        inputs, samples = seg_batch(algo, NUM_CLASSES, 2, CROP[0], 0)
        losses = algo.loss(inputs, samples)
        assert set(teacher_dtypes) == {getattr(torch, {
            'bf16': 'bfloat16', 'fp32': 'float32'}[want])}
        assert all(v.dtype == torch.float32 for k, v in losses.items()
                   if k.startswith('distill.'))
        # where reduced precision does not apply, 'auto' is fp32 (no error)
        trainable = _build(SHIPPED['attnfd'], teacher_precision='auto',
                           teacher_trainable=True)
        assert trainable.pass_precision() == 'fp32'


def test_shipped_teacher_precision_follows_the_camvid_verdicts():
    """'auto' where the study found the bf16 teacher faster at no accuracy
    cost (AttnFD); every other teacher-based config stays fp32."""
    auto = _shipped('attnfd') + _shipped('attnfd_axial_sd')
    assert len(auto) == 8
    for path in glob.glob(osp.join(REPO, 'configs', '*', '*.py')):
        model = Config.fromfile(path).get('model', {})
        if 'teacher' not in model:
            continue
        want = 'auto' if path in auto else 'fp32'
        assert model.get('teacher_precision', 'fp32') == want, path


def test_teacher_norm_on_batch_statistics_keeps_the_stored_ones():
    algo = _build(SHIPPED['cwd'], teacher_norm_eval=False)
    bn = next(m for m in algo.teacher.modules()
              if isinstance(m, torch.nn.BatchNorm2d))
    stored = bn.running_mean.clone()
    assert bn.training and not algo.teacher.decode_head.training
    seen = []
    bn.register_forward_hook(lambda m, a, out: seen.append(
        (a[0].mean((0, 2, 3)), out.mean((0, 2, 3)))))
    inputs, samples = seg_batch(algo, NUM_CLASSES, 2, CROP[0], 0)
    algo.loss(inputs, samples)
    torch.testing.assert_close(bn.running_mean, stored)  # not updated
    # batch statistics: the per-channel output mean is the BN bias
    torch.testing.assert_close(seen[0][1], bn.bias.detach(), atol=1e-4,
                               rtol=0)
    algo.eval()
    assert not bn.training  # validation uses the stored statistics
    default = _build(SHIPPED['cwd'])
    assert not any(m.training for m in default.teacher.modules())


def test_float32_helpers():
    nested = dict(a=[torch.ones(2, dtype=torch.bfloat16)],
                  b=(torch.ones(1, dtype=torch.float16), 3),
                  c=torch.arange(3))
    out = to_float32(nested)
    assert out['a'][0].dtype == torch.float32
    assert out['b'][0].dtype == torch.float32 and out['b'][1] == 3
    assert out['c'] is nested['c']  # integers untouched
    with torch.autocast('cpu', dtype=torch.bfloat16):
        x = torch.ones(4, 4)
        assert (x @ x).dtype == torch.bfloat16
        with autocast_disabled():
            assert (x @ x).dtype == torch.float32


def test_a_hand_written_configurable_distiller_gets_fp32_contiguous_losses():
    """type='ConfigurableDistiller' (the CWD recipe of MMRazor) is built as
    SegConfigurableDistiller: same keys, fp32 losses under autocast, and
    channels-last logits reach CWD's .view contiguous."""
    from mmseg_attnkd.models.distillers import SegConfigurableDistiller
    from mmseg_attnkd.testing import cwd_distiller
    algo = _build(cwd_distiller())
    assert type(algo.distiller) is SegConfigurableDistiller
    algo.to(memory_format=torch.channels_last)
    inputs, samples = seg_batch(algo, NUM_CLASSES, 2, CROP[0], 0)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = algo.loss(inputs.contiguous(
            memory_format=torch.channels_last), samples)
    assert losses['distill.loss_cwd'].dtype == torch.float32
    assert torch.isfinite(losses['distill.loss_cwd'])


@pytest.mark.parametrize('method', ['axial_sd', 'attnfd_axial_sd',
                                    'axial_sd_ema'])
def test_axial_sd_losses_see_fp32_records_with_autocast_off(method):
    """Under AMP the logits (and the axial block's output) are bf16; the
    teacher CE and the consistency term (also its EMA-teacher form) must
    still be computed in fp32."""
    if method == 'axial_sd_ema':
        algo = _build(SHIPPED['axial_sd'], ema_teacher=dict(momentum=0.01))
    else:
        algo = _build(SHIPPED[method])
    seen = {}

    def spy(name, loss):
        def hook(module, args, kwargs):
            tensors = [t for t in list(args) + list(kwargs.values())
                       if torch.is_tensor(t) and t.is_floating_point()]
            seen[name] = ({t.dtype for t in tensors},
                          torch.is_autocast_enabled('cpu'))
        loss.register_forward_pre_hook(hook, with_kwargs=True)

    for name in ('loss_teacher_ce', 'loss_sd_mse'):
        spy(name, algo.distiller.distill_losses[name])
    inputs, samples = seg_batch(algo, NUM_CLASSES, 2, CROP[0], 0)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = algo.loss(inputs, samples)
    assert seen == {name: ({torch.float32}, False) for name in seen}
    assert sorted(seen) == ['loss_sd_mse', 'loss_teacher_ce']
    assert all(torch.isfinite(v) for k, v in losses.items() if 'loss' in k)
