# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial self-distillation on Drosophila ssTEM: six architectures, two outputs.

Reproduces the architecture study of the axial self-distillation source
(student output / teacher output against the plain model) on all 20
labelled ssTEM sections with MMSeg models:

* split by section: 0-11 train, 12-15 val (curves, choices), 16-19 test
  (scored once per finished run); sections converted at ``--scale``;
* architectures (width-reduced, from scratch, BN), each arm a config file
  of ``configs/sstem256/`` (data, schedule and runtime in its
  ``_base_sstem256.py``; ``bench/sstem/arms.py`` reads them):
  UNet-S5-D16 + FCN, PSPNet, DeepLabV3, DeepLabV3+ (ResNetV1c-18 layout,
  output stride 8), Semantic FPN, UPerNet (ResNetV1c-18, output stride 32);
* arms, same data order, augmentation, schedule and initial student
  weights per seed:

  - ``baseline``: the plain model;
  - ``sd``: axial self-distillation (``SegSelfDistill`` +
    ``AxialSelfDistiller``, package defaults unless ``--sd-*`` options say
    otherwise); validation scores the student output (``mIoU``) and the
    teacher output (``teacher_output.mIoU``) with
    ``SegSelfDistillValLoop``; test scores both, and the exported
    ``AxialRefineHead`` model is scored too and must equal the teacher
    output;
  - ``ce2``: control, the plain model with the decode-head CE weight
    doubled (the SD arm adds a second CE on the teacher logits), no axial
    block;

* paired initial weights: the plain student is built and initialised once
  per (architecture, seed) and saved; every arm loads it before its first
  step (the axial block is extra and initialised on its own), and all RNGs
  are re-seeded there, so dropout draws are paired too;
* inference: sliding window at the training crop (the models' ``test_cfg``,
  stride 2/3 of the crop) and whole-image inference, both scored on val and
  test; the report uses the mode with the higher mean val mIoU (one choice
  for all architectures and outputs) for its test numbers and latency;
* checkpoint choice on val only: ``--select final`` (default, the last
  iteration) or ``best`` (best val mIoU of each output);
* cost: parameters and FLOPs (one crop window) of both outputs, CPU latency
  of a whole test section in each inference mode.

Every (architecture, arm, seed) is a work dir with ``result.json``;
finished runs are skipped, interrupted ones resume from their last
checkpoint with the random states saved in it (``RandomStateHook``), so a
resumed run draws the same dropout and flips as an uninterrupted one.
``--jobs`` runs several at once (GPU), ``--deadline-min`` stops starting
runs (and ends unfinished ones, resumable later) after that budget, and the
report covers whatever finished.

Outputs (written by ``bench/sstem/report.py``):
``bench/results/sstem_study_<protocol>.{md,json,png}`` and the generated
section of ``configs/axial_sd/README.md``.

Example::

    python bench/sstem/run.py --protocol cpu --measure-steps 3   # sizing
    nohup python bench/sstem/run.py --protocol cpu &             # resumable
    python bench/sstem/run.py --protocol gpu                      # one GPU
    python bench/sstem/run.py --protocol cpu --sd-mse-target logits \\
        --sd-mse-weight 0.5 --sd-detach-input --work-root bench/cache/x
"""
import argparse
import json
import os.path as osp
import shlex
import signal
import sys
import time
from typing import List

if __package__ in (None, ''):  # run as a script: the repository first
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from bench.lib import common, runs  # noqa: E402
from bench.sstem.arms import (ARCHS, ARMS, PROTOCOLS,  # noqa: E402
                              sd_v2_options)
from bench.sstem.config import run_config_sha, run_dir  # noqa: E402
from bench.sstem.data import image_size, prepare_data  # noqa: E402
from bench.sstem.report import write_report  # noqa: E402
from bench.sstem.schedule import (CODE_PATHS, load_result,  # noqa: E402
                                  run_all)
from bench.sstem.steps import measure_steps  # noqa: E402
from bench.sstem.worker import worker  # noqa: E402


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------
def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--worker', default=None, help=argparse.SUPPRESS)
    parser.add_argument('--protocol', choices=tuple(PROTOCOLS),
                        default='cpu')
    parser.add_argument('--data-root',
                        default=osp.join(common.REPO_ROOT, '..', 'shared',
                                         'data', 'drosophila_sstem'),
                        help='ssTEM release folder (raw/, labels/)')
    parser.add_argument('--data-dir', default=None,
                        help='converted data (default bench/cache/'
                        'sstem-scale<scale>); converted from --data-root '
                        'when missing')
    parser.add_argument('--scale', type=float, default=None,
                        help='section resize at conversion (protocol '
                        'default 0.5: 512x512)')
    parser.add_argument('--archs', nargs='+', default=list(ARCHS),
                        choices=ARCHS)
    parser.add_argument('--arms', nargs='+', default=list(ARMS),
                        choices=ARMS)
    parser.add_argument('--seeds', nargs='+', type=int, default=None)
    parser.add_argument('--iters', type=int, default=None)
    parser.add_argument('--val-interval', type=int, default=None)
    parser.add_argument('--width', type=int, default=None,
                        help='base channels of the models (protocol '
                        'default)')
    parser.add_argument('--unet-width', type=int, default=None,
                        help='base channels of UNet (protocol default; its '
                        'decoder runs at full resolution, so it is halved)')
    parser.add_argument('--crop', type=int, default=None,
                        help='square training crop = sliding window '
                        '(protocol default 256; stride 2/3 of it)')
    parser.add_argument('--batch', type=int, default=None,
                        help='training batch (protocol default)')
    parser.add_argument('--workers', type=int, default=None,
                        help='dataloader workers per run (protocol default)')
    parser.add_argument('--optimizer', choices=('sgd', 'adamw'),
                        default=None, help='default: the protocol\'s')
    parser.add_argument('--lr', type=float, default=None,
                        help='default: the protocol\'s')
    parser.add_argument('--select', choices=('final', 'best'),
                        default='final',
                        help='checkpoint scored on test, chosen on val: the '
                        'last one, or the best val mIoU of each output')
    parser.add_argument('--jobs', type=int, default=None,
                        help='runs at a time, each in its own process '
                        '(protocol default); 0: one after the other in '
                        'this process')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads per run (protocol default)')
    parser.add_argument('--deadline-min', type=float, default=None,
                        help='start no run after this many minutes; runs '
                        'still going --grace-min later are stopped '
                        '(resumable) and the report covers what finished')
    parser.add_argument('--grace-min', type=float, default=None)
    parser.add_argument('--work-root',
                        default=osp.join(common.BENCH_DIR, 'cache',
                                         'sstem_study'))
    parser.add_argument('--out-dir', default=common.RESULTS_DIR)
    parser.add_argument('--latency-threads', type=int, default=2)
    parser.add_argument('--latency-repeats', type=int, default=5)
    parser.add_argument('--no-cost', action='store_true',
                        help='skip params/FLOPs/latency (smoke runs)')
    parser.add_argument('--report-only', action='store_true',
                        help='rebuild table, plot and README section from '
                        'the finished runs in --work-root; trains nothing')
    parser.add_argument('--dry-run', action='store_true',
                        help='write and check every run config, train '
                        'nothing')
    parser.add_argument('--measure-steps', type=int, default=0,
                        help='time N training steps per architecture and '
                        'arm, estimate the protocol time, train nothing')
    sd = parser.add_argument_group(
        'axial self-distillation (defaults: the package defaults)')
    sd.add_argument('--sd-span', type=int, default=None,
                    help='default: max(64, training logit side / stride)')
    sd.add_argument('--sd-channels', type=int, default=None)
    sd.add_argument('--sd-heads', type=int, default=None)
    sd.add_argument('--sd-long-axis', choices=('interpolate', 'window'),
                    default=None)
    sd.add_argument('--sd-unet-stride', type=int, default=None,
                    help='axial pooling stride of UNet (default 4)')
    sd.add_argument('--sd-detach-input', action='store_true')
    sd.add_argument('--sd-ce-weight', type=float, default=None)
    sd.add_argument('--sd-mse-weight', type=float, default=None)
    sd.add_argument('--sd-mse-target', choices=('prob', 'logits'),
                    default=None)
    sd.add_argument('--sd-no-detach-teacher', action='store_true')
    sd.add_argument('--sd-v2', default=None,
                    choices=sorted(sd_v2_options()),
                    help='the sd arm as this axial SD v2 candidate of the '
                    'CamVid study (bench/camvid/arms.py V2_ARMS); the other '
                    'arms are unchanged, so their finished runs restore')
    args = parser.parse_args(argv)
    proto = PROTOCOLS[args.protocol]
    for key in ('scale', 'iters', 'val_interval', 'width', 'jobs', 'threads',
                'deadline_min', 'grace_min', 'batch', 'workers',
                'unet_width', 'optimizer', 'lr'):
        if getattr(args, key) is None:
            setattr(args, key, proto[key])
    if args.seeds is None:
        args.seeds = list(proto['seeds'])
    if args.crop is None:
        args.crop, args.stride = tuple(proto['crop']), tuple(proto['stride'])
    else:  # sliding-window stride 2/3 of the crop, as MMSeg's configs
        args.crop = (args.crop, args.crop)
        args.stride = (round(2 * args.crop[0] / 3), ) * 2
    args.data_dir_given = args.data_dir is not None
    if args.data_dir is None:
        args.data_dir = osp.join(common.BENCH_DIR, 'cache',
                                 f'sstem-scale{args.scale}')
    args.start = time.time()
    return args


def _results_in(args) -> List[dict]:
    out = []
    for seed in args.seeds:
        for arch in args.archs:
            for arm in args.arms:
                r = load_result(
                    run_dir(args, arch, arm, seed),
                    run_config_sha(arch, arm, seed, args, args.data_dir))
                if r is not None:
                    out.append(r)
    return out


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    if args.worker:
        return [worker(args.worker)]
    # committed results name no machine path (see common.write_json)
    command = 'python bench/sstem/run.py ' + ' '.join(
        shlex.quote(str(common.repo_relative(a)))
        for a in (sys.argv[1:] if argv is None else argv))
    import torch
    if args.protocol == 'gpu' and not torch.cuda.is_available() and not (
            args.dry_run or args.report_only or args.measure_steps):
        raise SystemExit('--protocol gpu needs a CUDA device; use --protocol '
                         'cpu here (or --dry-run).')
    args.command = command
    import mmseg_attnkd  # noqa: F401
    if args.measure_steps:
        text = measure_steps(args)
        common.write_text(osp.join(
            args.out_dir, f'sstem_steptimes_{args.protocol}.md'), text)
        print(text)
        return []
    # a plain `kill` ends the runs too (they resume on the next call)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    info = common.machine_info()
    data_dir = args.data_dir if args.report_only else prepare_data(args)
    failed, stopped = [], []
    if args.report_only:
        results = _results_in(args)
        old = osp.join(args.out_dir, f'sstem_study_{args.protocol}.json')
        if osp.isfile(old):  # keep the machine line of the runs
            with open(old) as f:
                info = json.load(f).get('machine', info)
    else:
        with runs.driver_lock(osp.join(args.work_root, args.protocol),
                              'bench/sstem/run.py'):
            results, failed, stopped = run_all(args, data_dir)
        if args.dry_run:
            return results
    extra = dict(commit=common.git_commit(CODE_PATHS), command=command,
                 wall_s=time.time() - args.start,
                 image=list(image_size(data_dir)),
                 failed=failed, stopped=stopped)
    if results:
        text = write_report(results, args, info, extra)
        print(text)
    if failed:
        raise SystemExit(f'{len(failed)} run(s) failed: {", ".join(failed)};'
                         ' see their run.log; rerun the same command to '
                         'retry them.')
    return results


if __name__ == '__main__':
    main()
