# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Training overhead of distillation: time per iteration and peak memory.

One command measures, at two scales (``bench/overhead/arms.py``: the demo
pair of the CPU accuracy protocol, batch 8, and the R18-d8 / R50-d8 pair,
batch 2; 180x240, 11 classes):

1. step time of every arm (``student``, ``axial_sd``, ``axial_sd_s2``,
   ``floor``, ``attnfd``, ``kd``, ``cwd``): all arms of a scale are built in
   one process and stepped round-robin on the same preprocessed batch (SGD
   step included), so load changes hit every arm alike; median over
   ``--rounds`` rounds with a 95% bootstrap interval, and for each compared
   pair the median of the per-round ratios with its interval;
2. step peak memory of every arm, each in a fresh subprocess with
   ``MALLOC_MMAP_THRESHOLD_=65536`` (freed tensors go back to the OS at
   once): "step peak" = peak RSS (``VmHWM``) - RSS before the first of
   ``--mem-iters`` steps; "process peak" = ``VmHWM`` itself;
3. the axial block alone (``bench/overhead/axial_block.py``) on the demo
   logits, forward and forward+backward, at strides 1 and 2, beside full
   self-attention through ``F.scaled_dot_product_attention``.

The 1-minute load average is recorded at the start and end of every phase;
the targets are stated met or missed in ``<out-dir>/<name>.md`` (numbers in
``<name>.json``). ``--with-parity`` then runs ``bench/parity/run.py`` (export
parity, teacher-output vs student eager latency) into the same folder.

Example::

    python bench/overhead/run.py --threads 2 --with-parity   # the full run
    python bench/overhead/run.py --size 32 32 --rounds 2 --warmup 1 \
        --mem-iters 1 --out-dir work_dirs/overhead_smoke  # smoke (minutes)
"""
import argparse
import logging
import os
import os.path as osp
import sys
import time

if __package__ in (None, ''):
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from bench.lib import common, timing  # noqa: E402
from bench.overhead import arms as oa  # noqa: E402
from bench.overhead import axial_block  # noqa: E402
from bench.overhead.report import report  # noqa: E402

#: Compared pairs: label, numerator, denominator, time target (scales it
#: applies to), step-memory target.
RATIOS = (
    ('axial SD / student', 'axial_sd', 'student', (1.3, ('demo', )), None),
    ('axial SD stride 2 / student', 'axial_sd_s2', 'student',
     (1.3, ('demo', )), None),
    ('AttnFD / floor', 'attnfd', 'floor', (1.10, ('demo', 'r18')), 1.25),
    ('KD / floor', 'kd', 'floor', None, None),
    ('CWD / floor', 'cwd', 'floor', None, None),
    ('floor / student', 'floor', 'student', None, None),
    ('teacher / student', 'teacher', 'student', None, None),
)
#: Target of the axial block: forward+backward <= 3x its forward.
BLOCK_TARGET = 3.0


def _mem_ratio(memory: dict, num: str, den: str, key: str):
    if num in memory and den in memory and memory[den].get(key):
        return memory[num][key] / memory[den][key]
    return None


def summarize_scale(scale: str, times: dict, built: dict,
                    memory: dict) -> dict:
    """Medians, intervals, ratios and targets of one scale."""
    arms = {
        arm: dict(time=timing.median_ci(ts).as_dict(), min_s=min(ts),
                  trainable_params=built[arm], times_s=ts)
        for arm, ts in times.items()
    }
    ratios = []
    for label, num, den, t_target, m_target in RATIOS:
        if num not in times or den not in times:
            continue
        iv = timing.ratio_ci(times[num], times[den])
        row = dict(label=label, num=num, den=den, time=iv.as_dict(),
                   time_of_minima=min(times[num]) / min(times[den]),
                   step_peak=_mem_ratio(memory, num, den, 'step_peak'),
                   process_peak=_mem_ratio(memory, num, den, 'peak_rss'),
                   targets=[])
        if t_target and scale in t_target[1]:
            row['targets'].append(dict(
                what='time', bound=t_target[0],
                verdict=timing.verdict(iv, t_target[0])))
        if m_target:
            row['targets'].append(dict(
                what='step memory', bound=m_target,
                verdict=timing.verdict(row['step_peak'], m_target)))
        ratios.append(row)
    return dict(arms=arms, memory=memory, ratios=ratios)


def summarize_block(res: dict) -> dict:
    """Medians and ratios of the block rows (see ``axial_block.measure``)."""
    rows = {}
    for row, modes in res['times_s'].items():
        r = {f'{m}_s': timing.median_ci(ts).as_dict()
             for m, ts in modes.items()}
        bwd = timing.ratio_ci(modes['fwd_bwd'], modes['fwd'])
        r['fwd_bwd_over_fwd'] = bwd.as_dict()
        r['fwd_bwd_over_fwd_nograd'] = timing.ratio_ci(
            modes['fwd_bwd'], modes['fwd_nograd']).as_dict()
        if row.startswith('axial'):
            r['target'] = dict(bound=BLOCK_TARGET,
                               verdict=timing.verdict(bwd, BLOCK_TARGET))
            full = res['times_s'].get(row.replace('axial', 'full_sdpa'))
            if full:
                r['fwd_bwd_over_full_sdpa'] = timing.ratio_ci(
                    modes['fwd_bwd'], full['fwd_bwd']).as_dict()
        r['params'] = res['params'][row]
        rows[row] = r
    return dict(shape=res['shape'], rows=rows, times_s=res['times_s'])


def run_scale(scale: str, args) -> dict:
    """Time (round-robin) and memory (subprocesses) of one scale."""
    d = oa.SCALES[scale]
    s = oa.Setting(scale, tuple(args.size or d['size']),
                   args.batch or d['batch'], args.teacher_depth)
    arms = list(args.arms or d['arms'])
    out = dict(setting=s._asdict(), title=oa.scale_title(s),
               load_start=timing.load_average())
    built = oa.build_arms(arms, s)
    steps = {arm: built[arm].step for arm in arms}
    times = timing.round_robin(steps, args.rounds, args.warmup,
                               label=f'[{scale}] ')
    params = {arm: built[arm].num_trainable for arm in arms}
    del built, steps
    out['load_after_time'] = timing.load_average()
    memory = {}
    if not args.no_memory:
        for arm in arms:
            t = time.time()
            memory[arm] = oa.memory_in_subprocess(arm, s, args.mem_iters,
                                                  args.threads)
            print(f'[{scale}] memory: {arm} (fresh process): step peak '
                  f'{common.mib(memory[arm]["step_peak"]):.0f} MiB '
                  f'({time.time() - t:.0f}s)', flush=True)
    out.update(summarize_scale(scale, times, params, memory))
    out['load_end'] = timing.load_average()
    return out


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--scales', nargs='+', default=list(oa.SCALES),
                        choices=tuple(oa.SCALES))
    parser.add_argument('--arms', nargs='+', choices=oa.ALL_ARMS,
                        help='arms of every scale (default: the scale\'s '
                        'own list, see overhead_arms.SCALES)')
    parser.add_argument('--size', nargs=2, type=int, metavar=('H', 'W'),
                        help='input size of every scale (default 180 240)')
    parser.add_argument('--batch', type=int,
                        help='batch of every scale (default: demo 8, r18 2)')
    parser.add_argument('--teacher-depth', type=int, default=50,
                        choices=(50, 101), help='teacher of the r18 scale')
    parser.add_argument('--rounds', '--iters', type=int, default=30,
                        help='measured round-robin rounds (default 30)')
    parser.add_argument('--warmup', type=int, default=3)
    parser.add_argument('--mem-iters', type=int, default=3)
    parser.add_argument('--block-rounds', type=int,
                        help='rounds of the block phase (default --rounds)')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch intra-op threads (default 1)')
    parser.add_argument('--no-memory', action='store_true')
    parser.add_argument('--no-block', action='store_true')
    parser.add_argument('--with-parity', action='store_true',
                        help='then run bench/parity/run.py (default sizes, '
                        '--rounds latency runs, same threads and out-dir)')
    parser.add_argument('--parity-sizes', nargs='+', metavar='HxW:C',
                        help='--sizes of the parity run (default: its own)')
    parser.add_argument('--out-dir', default=common.RESULTS_DIR)
    parser.add_argument('--name', default='overhead_cpu')
    parser.add_argument('--no-readme', action='store_true')
    args = parser.parse_args(argv)
    for k in ('rounds', 'warmup', 'mem_iters', 'block_rounds', 'threads'):
        v = getattr(args, k)
        if v is not None and v < (0 if k == 'warmup' else 1):
            parser.error(f'--{k.replace("_", "-")} must be positive')
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch
    from mmengine.logging import MMLogger
    torch.set_num_threads(args.threads)
    # init_weights logs every parameter at INFO; progress lines stay legible
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    start = time.time()
    info = common.machine_info()
    info.update(torch_interop_threads=torch.get_num_interop_threads(),
                omp_num_threads=os.environ.get('OMP_NUM_THREADS'))
    results = dict(machine=info, args=vars(args), scales={})
    for scale in args.scales:
        results['scales'][scale] = run_scale(scale, args)
    if not args.no_block:
        d = oa.SCALES['demo']
        size = tuple(args.size or d['size'])
        load = timing.load_average()
        res = axial_block.measure(size, args.batch or d['batch'], (1, 2),
                                  args.block_rounds or args.rounds,
                                  args.warmup)
        results['block'] = dict(summarize_block(res), load_start=load,
                                load_end=timing.load_average())
    info['loadavg_1m_end'] = timing.load_average()
    info['wall_s'] = round(time.time() - start, 1)
    text = report(results, args)
    common.save_results(args.out_dir, args.name, text, results,
                        readme=not args.no_readme)
    print(text)
    print(f'wrote {osp.join(args.out_dir, args.name)}.{{md,json}} '
          f'in {info["wall_s"]:.0f}s', flush=True)
    if args.with_parity:
        from bench.parity import run as parity
        print('[parity] export parity and eager latency (bench/parity/run.py)',
              flush=True)
        sizes = ['--sizes', *args.parity_sizes] if args.parity_sizes else []
        results['parity'] = parity.main([
            '--threads', str(args.threads), '--runs', str(args.rounds),
            '--out-dir', args.out_dir, *sizes
        ])
    return results


if __name__ == '__main__':
    main()
