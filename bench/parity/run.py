# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Inference parity of the exported models.

1. AttnFD: a ``SingleTeacherDistill`` + ``AttnFDDistiller`` checkpoint
   (student DeepLabV3+ R18-d8, teacher R50-d8, random weights and BN
   statistics) is saved, converted with
   ``mmseg_attnkd.utils.convert_kd_checkpoint_to_student`` and loaded into a
   plain MMSeg student built from the baseline config. Checked: parameter
   count and FLOPs equal those of the baseline student (ratio 1.000) and the
   exported model's logits equal the distillation student's bit for bit.
2. Axial self-distillation teacher output: a ``SelfDistill`` +
   ``AxialSelfDistiller`` model's weights are converted with
   ``convert_axial_state_dict`` into the ``AxialRefineHead`` model. Checked:
   its logits equal ``connector(student logits)`` of the distillation model,
   and its extra FLOPs / latency relative to the student at 512x1024 with
   19 classes (Cityscapes) and 360x480 with 11 classes (CamVid).

FLOPs: :func:`mmseg_attnkd.analysis.segmentor_complexity`
(``mmengine.analysis``; one multiply-add = one FLOP; convolutions, matmuls
and einsums; backbone + decode head; no auxiliary head, no final resize).
Latency: eval-mode ``mode='tensor'`` forward of one image (PyTorch eager),
student and teacher-output model interleaved for ``--runs`` runs; medians
with 95% percentile-bootstrap intervals, the extra latency as the median of
the per-run ratios with its interval; target: at most +25% at 360x480,
stated met or missed.

Example::

    python bench/parity/run.py
    python bench/parity/run.py --sizes 64x128:19 --runs 1 \
        --out-dir bench/results/quick
"""
import argparse
import logging
import os.path as osp
import sys
import tempfile

if __package__ in (None, ''):  # run as a script: the repository first
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from bench.lib import common, timing  # noqa: E402
from bench.overhead.arms import axial_sd_model, method_model  # noqa: E402
from bench.parity.report import parse_size, report  # noqa: E402


def _randomize_bn(model, seed: int = 1) -> None:
    """Non-trivial BN statistics, so eval-mode parity tests them too."""
    import torch
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(torch.randn(m.running_mean.shape,
                                             generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape,
                                           generator=gen) + 0.5)


#: The AttnFD options of the parity check: the package defaults written
#: out, a seeded random teacher attention in place of a fitted file.
ATTNFD = dict(stages='auto', teacher_attention='random', normalize='tensor',
              loss_weight=8.0)


def attnfd_model_cfgs(args):
    """The R18-d8 student and its AttnFD distillation from the R50-d8 (or
    R101-d8) teacher (``configs/camvid240/``'s AttnFD file on that pair)."""
    student, teacher = common.r18_scale_models(11, args.attnfd_size,
                                               args.teacher_depth)
    distill = method_model('attnfd', student, teacher)
    distill['distiller'].update(ATTNFD)
    return student, distill


def axial_model_cfgs(args, size, num_classes):
    """The R18-d8 student and its axial self-distillation (MMRazor's
    ``SelfDistill``; the block at ``--axial-stride``)."""
    student, _ = common.r18_scale_models(num_classes, size)
    sd = axial_sd_model(student, dict(stride=args.axial_stride)
                        if args.axial_stride > 1 else None)
    # MMRazor's algorithm, as measured so far (the file's SegSelfDistill
    # adds checks, not modules: the same weights and outputs)
    sd['type'] = 'SelfDistill'
    return student, sd


def attnfd_parity(args) -> dict:
    import torch
    from mmengine.analysis import parameter_count

    from mmseg_attnkd.analysis import segmentor_complexity
    from mmseg_attnkd.utils import (build_segmentor,
                                    convert_kd_checkpoint_to_student)
    h, w = args.attnfd_size
    student_cfg, distill_cfg = attnfd_model_cfgs(args)
    torch.manual_seed(0)
    distill = common.build_model(distill_cfg)
    _randomize_bn(distill.architecture)
    distill.eval()
    baseline = build_segmentor(student_cfg)  # fresh, independent weights
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = osp.join(tmp, 'attnfd.pth'), osp.join(tmp, 'student.pth')
        torch.save(dict(state_dict=distill.state_dict(), meta=dict()), src)
        report = convert_kd_checkpoint_to_student(src, dst, baseline)
        exported = build_segmentor(student_cfg, checkpoint=dst)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, h, w, generator=gen)
    with torch.no_grad():
        ref = distill.architecture(x, None, mode='tensor')
        out = exported(x, None, mode='tensor')
    flops_b = segmentor_complexity(baseline, (h, w))
    flops_e = segmentor_complexity(exported, (h, w))
    distill_params = parameter_count(distill)['']
    return dict(
        size=[h, w],
        keys_ok=bool(report.ok),
        baseline_params=flops_b['params'],
        exported_params=flops_e['params'],
        params_ratio=flops_e['params'] / flops_b['params'],
        baseline_flops=flops_b['flops'],
        exported_flops=flops_e['flops'],
        flops_ratio=flops_e['flops'] / flops_b['flops'],
        distill_training_params=float(distill_params),
        max_abs_diff=float((out - ref).abs().max()),
        bit_identical=bool(torch.equal(out, ref)))


def axial_parity(args, size, num_classes) -> dict:
    import torch

    from mmseg_attnkd.analysis import segmentor_complexity
    from mmseg_attnkd.analysis.axial_variant import with_axial_refine_head
    from mmseg_attnkd.utils import build_segmentor, convert_axial_state_dict
    h, w = size
    student_cfg, sd_cfg = axial_model_cfgs(args, size, num_classes)
    torch.manual_seed(0)
    axial_args = dict(sd_cfg['distiller'].get('axial') or {})
    sd = common.build_model(sd_cfg)
    _randomize_bn(sd.architecture)
    axial = sd.distiller.connectors['axial'].axial
    with torch.no_grad():  # a trained-looking block (proj is zero at init)
        gen = torch.Generator().manual_seed(2)
        axial.proj.weight.copy_(
            torch.randn(axial.proj.weight.shape, generator=gen) * 0.1)
    sd.eval()
    refine_cfg = with_axial_refine_head(student_cfg, axial_args)
    refine = build_segmentor(refine_cfg)
    refine.load_state_dict(convert_axial_state_dict(sd.state_dict()),
                           strict=True)
    student = build_segmentor(student_cfg)
    student.load_state_dict(
        {k[len('architecture.'):]: v
         for k, v in sd.state_dict().items()
         if k.startswith('architecture.')}, strict=True)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, h, w, generator=gen)
    with torch.no_grad():
        s_logits = sd.architecture(x, None, mode='tensor')
        t_ref = sd.distiller.connectors['axial'](s_logits)
        t_out = refine(x, None, mode='tensor')
    c_s = segmentor_complexity(student, (h, w))
    c_t = segmentor_complexity(refine, (h, w))
    with torch.no_grad():  # eager latency, models interleaved per run
        times = timing.round_robin(
            {k: timing.timed(lambda m=m: m(x, None, mode='tensor'))
             for k, m in dict(student=student, teacher_output=refine).items()},
            args.runs, warmup=1, label=f'[parity] {h}x{w} latency ')
    lat = {k: timing.summary(v) for k, v in times.items()}
    ratio = timing.ratio_ci(times['teacher_output'], times['student'])
    return dict(
        size=[h, w],
        num_classes=num_classes,
        logit_size=list(s_logits.shape[2:]),
        student_flops=c_s['flops'],
        teacher_output_flops=c_t['flops'],
        extra_flops_pct=100 * (c_t['flops'] / c_s['flops'] - 1),
        student_params=c_s['params'],
        teacher_output_params=c_t['params'],
        extra_params=c_t['params'] - c_s['params'],
        student_latency=lat['student'],
        teacher_output_latency=lat['teacher_output'],
        latency_ratio=ratio.as_dict(),
        extra_latency_pct=100 * (ratio.median - 1),
        extra_latency_pct_min=100 * (lat['teacher_output']['min_s'] /
                                     lat['student']['min_s'] - 1),
        max_abs_diff=float((t_out - t_ref).abs().max()),
        identical=bool(torch.equal(t_out, t_ref)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', nargs='+', default=['512x1024:19',
                                                       '360x480:11'],
                        help='HxW:classes for the axial export')
    parser.add_argument('--attnfd-size', nargs=2, type=int,
                        default=[360, 480], metavar=('H', 'W'))
    parser.add_argument('--teacher-depth', type=int, default=50,
                        choices=(50, 101))
    parser.add_argument('--axial-stride', type=int, default=1,
                        help='AxialAttention2d stride of the axial arm '
                        '(attend on a pooled grid; default 1 = package '
                        'default)')
    parser.add_argument('--runs', type=int, default=30,
                        help='interleaved latency runs (default 30)')
    parser.add_argument('--target-size', default='360x480',
                        help='HxW of --sizes where the latency target '
                        '(<= +25%%) is judged (default 360x480)')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--out-dir', default=common.RESULTS_DIR)
    parser.add_argument('--name', default='parity')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch
    from mmengine.logging import MMLogger
    torch.set_num_threads(args.threads)
    # init_weights logs every parameter at INFO; progress lines stay legible
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    info = common.machine_info()
    res = dict(machine=info, args=vars(args))
    print('[parity] AttnFD export', flush=True)
    res['attnfd'] = attnfd_parity(args)
    res['axial'] = []
    for s in args.sizes:
        print(f'[parity] axial export {s}', flush=True)
        res['axial'].append(axial_parity(args, *parse_size(s)))
    info['loadavg_1m_end'] = timing.load_average()
    text = report(res, info)
    common.save_results(args.out_dir, args.name, text, res)
    print(text)
    return res


if __name__ == '__main__':
    main()
