# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""CamVid accuracy protocol v2: paired seeds, choose on val, report on test.

Train on CamVid train (367), choose on val (101), report the final
checkpoint of every finished run once on test (233). Everything trains from
scratch (no pretrained weights offline); only differences between arms under
the same protocol are meaningful.

Order of a protocol (each step resumable, finished runs never redone):

1. the teacher, trained once by this command and cached under a key that
   hashes its config (``teacher_<sha>``);
2. the fitted teacher attention of AttnFD (``tools/fit_teacher_attention.py``
   on the frozen teacher), once per CBAM variant;
3. with ``--ablation``: the AttnFD and axial-SD ablation arms on
   ``ablation_seeds``; with ``--choose-on-val`` the best AttnFD and SD
   settings by mean final val mIoU become those of the main arms;
4. the main arms on ``seeds``: for seed ``k`` every arm starts from the same
   saved student weights and sees the same data order.

Example::

    # smoke run (minutes)
    python bench/accuracy/run.py --iters 20 --teacher-iters 20 --fit-iters 5 \\
        --val-interval 10 --val-images 8 --seeds 0 --arms baseline attnfd
    # the CPU protocol (about 6 h on 2 cores; restart the same command to
    # resume)
    nohup python bench/accuracy/run.py --protocol cpu \\
        > bench/cache/cpu.log 2>&1 &
    # the GPU twin: ablations, choice on val, main table, 8 runs at a time
    python bench/accuracy/run.py --protocol gpu --ablation --choose-on-val \\
        --jobs 8 --deadline-min 8
"""
import argparse
import concurrent.futures as futures
import copy
import os.path as osp
import sys
from typing import Dict, List, Optional

if __package__ in (None, ''):  # run as a script: the repository first
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from bench.accuracy import arms, report  # noqa: E402
from bench.accuracy.protocol import Protocol, needs_fit  # noqa: E402
from bench.accuracy.records import choose_on_val, missing_runs  # noqa: E402
from bench.lib import common, runs  # noqa: E402


def main(argv=None) -> List[dict]:
    args = parse_args(argv)
    if args.report_only:
        return report.report_only(args)
    import torch
    if args.protocol == 'gpu' and not torch.cuda.is_available() \
            and not args.dry_run and not args.allow_cpu:
        raise SystemExit('--protocol gpu needs a CUDA device; use --protocol '
                         'cpu here.')
    import mmseg_attnkd  # noqa: F401
    with runs.driver_lock(osp.join(args.work_root, args.protocol),
                          'bench/accuracy/run.py'):
        return run_protocol(args)


def run_protocol(args) -> List[dict]:
    """Teacher, fits, ablation, val choice and arms, each run once."""
    state = Protocol(args)
    state.teacher = state.run_arm('teacher', 0)
    state.results.append(state.teacher)

    grid = args.proto.get('grid', 'full')
    ablation = []
    if args.ablation:
        ablation = [(arms.attnfd_name(s), s, None)
                    for s in arms.attnfd_ablation(grid)]
        ablation += [(arms.sd_name(s), None, s)
                     for s in arms.sd_ablation(grid)]
    main_attnfd = [args.attnfd] if any(
        a in args.arms for a in ('attnfd', 'attnfd_sd')) else []
    if not args.choose_on_val:
        # an ablation setting equal to a main arm's is that arm's run
        same = {arms.attnfd_name(args.attnfd), arms.sd_name(args.sd)}
        ablation = [a for a in ablation if a[0] not in same]
    settings = [s for _, s, _ in ablation if s] + main_attnfd
    variants = needs_fit(args.arms, settings)
    with futures.ThreadPoolExecutor(max(1, min(len(variants),
                                               args.jobs))) as pool:
        list(pool.map(state.fit_attention, variants))
    # arms that do not depend on a val-based choice train alongside the
    # ablation; the others wait for the choice
    later = [a for a in args.arms if a in arms.CHOICE_ARMS] \
        if args.choose_on_val else []
    # baselines first (every comparison needs them), then the ablation,
    # then the other arms that need no choice
    first = [('baseline', seed, args.attnfd, args.sd) for seed in args.seeds
             if 'baseline' in args.arms]
    first += [(name, seed, None, None) for seed in args.ablation_seeds
              for name, _, _ in ablation]
    first += [(arm, seed, args.attnfd, args.sd) for seed in args.seeds
              for arm in args.arms if arm not in later and arm != 'baseline']
    state.run_many(first)
    if args.choose_on_val and not args.dry_run:
        missing = missing_runs([n for n, _, _ in ablation],
                               args.ablation_seeds, state.results)
        if missing:
            state.save(final=True)
            raise SystemExit(
                f'the val choice needs every ablation run; missing '
                f'{", ".join(missing)}. Rerun the same command to retry '
                'them (the chosen arms start once all have finished).')
        chosen = choose_on_val(state.results)
        if chosen.get('attnfd'):
            args.attnfd = chosen['attnfd']
        if chosen.get('sd'):
            args.sd = chosen['sd']
        args.chosen = chosen
        for spatial_norm in needs_fit(['attnfd'], [args.attnfd]):
            state.fit_attention(spatial_norm)
    state.run_many([(arm, seed, args.attnfd, args.sd)
                    for seed in args.seeds for arm in later])
    if args.dry_run:
        return state.results
    state.save(final=True)
    if state.failed:
        raise SystemExit(f'{len(state.failed)} run(s) did not finish: '
                         f'{", ".join(state.failed)}; rerun the same command '
                         'to retry them.')
    return state.results


# ---------------------------------------------------------------------------
# command line
# ---------------------------------------------------------------------------
def _settings(items: Optional[List[str]], default: Dict) -> Dict:
    out = dict(default)
    for item in items or []:
        if '=' not in item:
            raise SystemExit(f'setting {item!r}: use key=value')
        key, value = item.split('=', 1)
        if key not in default:
            raise SystemExit(f'setting {key!r}: choose from {list(default)}')
        kind = type(default[key])
        if kind is bool:
            out[key] = value.lower() in ('1', 'true', 'yes')
        else:
            out[key] = kind(value)
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--protocol', choices=tuple(arms.PROTOCOLS),
                        default='cpu')
    parser.add_argument('--data-root',
                        default=osp.join(common.REPO_ROOT, '..', 'shared',
                                         'data', 'camvid_segnet'))
    parser.add_argument('--data-cache', default=None,
                        help='converted data (default bench/cache/'
                        'camvid-v2-scale<s>; converted there if missing)')
    parser.add_argument('--arms', nargs='+', default=list(arms.MAIN_ARMS))
    parser.add_argument('--seeds', nargs='+', type=int, default=None)
    parser.add_argument('--ablation', action='store_true',
                        help='also run the AttnFD and SD ablation arms')
    parser.add_argument('--ablation-seeds', nargs='+', type=int,
                        default=None)
    parser.add_argument('--grid', choices=('small', 'full'), default=None,
                        help="ablation grid (default: the protocol's; "
                        "'full' = every teacher attention with both "
                        'normalisations, the weight swept per '
                        'normalisation, SD weights 1 and 10 / 0.1 and 1)')
    parser.add_argument('--choose-on-val', action='store_true',
                        help='main arms use the ablation settings with the '
                        'best mean final val mIoU')
    parser.add_argument('--attnfd', nargs='+', metavar='KEY=VALUE',
                        help=f'settings of the attnfd arm (default '
                        f'{arms.ATTNFD_DEFAULT})')
    parser.add_argument('--sd', nargs='+', metavar='KEY=VALUE',
                        help=f'settings of the sd arm (default '
                        f'{arms.SD_DEFAULT})')
    for key in ('iters', 'teacher_iters', 'fit_iters', 'val_interval',
                'batch', 'workers'):
        parser.add_argument(f'--{key.replace("_", "-")}', type=int,
                            default=None,
                            help=f'override the protocol\'s {key}')
    parser.add_argument('--val-images', type=int, default=None,
                        help='evaluate on the first N images only (smoke)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs trained at the same time (GPU)')
    parser.add_argument('--deadline-min', type=float, default=None,
                        help='start no new run after this many minutes')
    parser.add_argument('--work-root',
                        default=osp.join(common.BENCH_DIR, 'cache',
                                         'accuracy-v2'))
    parser.add_argument('--out-dir', default=common.RESULTS_DIR)
    parser.add_argument('--teacher-dir',
                        default=osp.join(common.REPO_ROOT, 'demo',
                                         'checkpoints'),
                        help='where a committed teacher (plain checkpoint) '
                        'is looked up by SHA-256 to restore the protocol')
    parser.add_argument('--report-only', action='store_true',
                        help='rebuild tables and plot from the results JSON')
    parser.add_argument('--timed-here', action='store_true',
                        help='with --report-only: record the runs not yet '
                        'in accuracy_<protocol>_machines.json as timed on '
                        'this machine (for results copied from a protocol '
                        'running here)')
    parser.add_argument('--dry-run', action='store_true',
                        help='write and check every config, train nothing')
    parser.add_argument('--allow-cpu', action='store_true',
                        help='run the gpu protocol on a CPU (tests only)')
    args = parser.parse_args(argv)
    known = arms.MAIN_ARMS + arms.EXTRA_ARMS
    unknown = [a for a in args.arms if a not in known]
    if unknown:
        parser.error(f'unknown arms {unknown}; choose from {known}')
    proto = copy.deepcopy(arms.PROTOCOLS[args.protocol])
    for key in ('batch', 'workers', 'val_interval', 'grid'):
        if getattr(args, key) is not None:
            proto[key] = getattr(args, key)
    args.proto = proto
    args.iters = args.iters or proto['iters']
    args.teacher_iters = args.teacher_iters or proto['teacher_iters']
    args.fit_iters = args.fit_iters or proto['fit_iters']
    args.seeds = args.seeds if args.seeds is not None else list(
        proto['seeds'])
    args.ablation_seeds = args.ablation_seeds if args.ablation_seeds \
        is not None else list(proto['ablation_seeds'])
    args.attnfd = _settings(args.attnfd, arms.ATTNFD_DEFAULT)
    args.sd = _settings(args.sd, arms.SD_DEFAULT)
    args.chosen = None
    args.argv = list(sys.argv[1:] if argv is None else argv)
    return args


if __name__ == '__main__':
    main()
