# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Training overhead of distillation: time per iteration and peak memory.

Arms (DeepLabV3+ R18-d8 student, DeepLabV3+ R50-d8 teacher by default):

* ``student``  - the student alone (a);
* ``floor``    - ``SegSingleTeacherDistill`` with an empty distiller: student
  step + teacher forward under ``no_grad`` (b), the cost every
  teacher-based method pays;
* ``attnfd``   - AttnFD, package defaults (c);
* ``cwd``      - MMRazor's CWD on conv_seg logits (d);
* ``axial_sd`` - axial self-distillation, package defaults (e);
* ``teacher``  - the teacher alone (for sizing teacher training; optional).

Time: all arms are built in one process and stepped round-robin on the same
preprocessed batch (SGD step included), so load changes hit every arm alike;
the median over rounds is reported.

Peak memory: every arm runs again in a fresh subprocess with
``MALLOC_MMAP_THRESHOLD_=65536`` (freed tensors go back to the OS at once),
builds its model and batch, reads its RSS, trains ``--mem-iters`` steps and
reads its peak RSS (``VmHWM``). "step peak" = peak - RSS before the first step
(activations, gradients, optimizer state, temporaries); "process peak" =
the peak itself (adds interpreter, libraries and weights).

Example::

    python bench/overhead.py                       # 180x240, batch 2
    python bench/overhead.py --size 64 64 --iters 2 \
        --out-dir bench/results/quick
"""
import argparse
import os.path as osp
import statistics
import sys
import time

if __package__ in (None, ''):
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from bench import common  # noqa: E402

# compared pairs sit next to each other in the round-robin order
ALL_ARMS = ('student', 'axial_sd', 'floor', 'attnfd', 'cwd', 'teacher')
DEFAULT_ARMS = ALL_ARMS


def arm_model_cfg(arm: str, args) -> dict:
    size = tuple(args.size)
    student = common.deeplabv3plus_cfg(common.STUDENT_DEPTH, args.num_classes,
                                       size)
    teacher = common.deeplabv3plus_cfg(args.teacher_depth, args.num_classes,
                                       size)
    if arm == 'student':
        return student
    if arm == 'teacher':
        return teacher
    if arm == 'floor':
        return common.teacher_distill_cfg(
            student, teacher, dict(type='ConfigurableDistiller'))
    if arm == 'attnfd':
        return common.teacher_distill_cfg(student, teacher,
                                          common.attnfd_distiller())
    if arm == 'cwd':
        return common.teacher_distill_cfg(student, teacher,
                                          common.cwd_distiller())
    if arm == 'axial_sd':
        return common.axial_sd_cfg(student)
    raise ValueError(f'unknown arm {arm!r}; choose from {ALL_ARMS}')


class Arm:
    """One model with its optimizer; ``step()`` is one training iteration."""

    def __init__(self, name: str, args, batch=None):
        import torch
        torch.manual_seed(0)
        self.name = name
        self.model = common.build_model(arm_model_cfg(name, args))
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.num_trainable = sum(p.numel() for p in params)
        self.optim = torch.optim.SGD(params, lr=0.01, momentum=0.9,
                                     weight_decay=5e-4)
        self.batch = batch if batch is not None else common.synthetic_batch(
            self.model, args.batch, tuple(args.size), args.num_classes)

    def step(self) -> float:
        start = time.perf_counter()
        losses = self.model(**self.batch, mode='loss')
        loss, _ = self.model.parse_losses(losses)
        loss.backward()
        self.optim.step()
        self.optim.zero_grad(set_to_none=True)
        return time.perf_counter() - start


def measure_memory(arm: str, args) -> dict:
    """Run inside a fresh process (see module docstring)."""
    arm_obj = Arm(arm, args)
    before = common.current_rss_bytes()
    for _ in range(args.mem_iters):
        arm_obj.step()
    peak = common.peak_rss_bytes()
    return dict(arm=arm, rss_before=before, peak_rss=peak,
                step_peak=peak - before)


def measure_time(arms, args) -> dict:
    built = {}
    batch = None
    for arm in arms:
        built[arm] = Arm(arm, args, batch)
        batch = built[arm].batch
    times = {arm: [] for arm in arms}
    for r in range(args.warmup + args.iters):
        for arm in arms:
            t = built[arm].step()
            if r >= args.warmup:
                times[arm].append(t)
        print(f'round {r + 1}/{args.warmup + args.iters}: ' + ', '.join(
            f'{a} {times[a][-1]:.2f}s' for a in arms if times[a]),
            flush=True)
    return {
        arm: dict(
            median_s=statistics.median(ts),
            min_s=min(ts),
            trainable_params=built[arm].num_trainable,
            times_s=ts)
        for arm, ts in times.items()
    }


def _paired_ratio(results, num, den):
    """Median over rounds of time(num) / time(den) in the same round."""
    if num not in results or den not in results:
        return None
    return statistics.median(
        a / b for a, b in zip(results[num]['times_s'],
                              results[den]['times_s']))


def _ratio(results, num, den, key):
    if num in results and den in results and results[den].get(key):
        return results[num][key] / results[den][key]
    return None


def report(results: dict, args, info: dict) -> str:
    size = f'{args.size[0]}x{args.size[1]}'
    lines = [
        f'### Training overhead ({size}, batch {args.batch}, '
        f'{args.num_classes} classes; student DeepLabV3+ R18-d8, teacher '
        f'DeepLabV3+ R{args.teacher_depth}-d8)', '',
        f'Machine: {common.machine_line(info)}. Median of {args.iters} '
        f'round-robin iterations after {args.warmup} warm-up; memory from a '
        f'fresh process per arm over {args.mem_iters} iterations.', ''
    ]
    rows = []
    for arm, r in results['arms'].items():
        mem = results['memory'].get(arm, {})
        rows.append([
            arm, f'{r["median_s"]:.3f}', f'{r["min_s"]:.3f}',
            f'{r["trainable_params"] / 1e6:.3f}',
            f'{common.mib(mem["step_peak"]):.0f}' if mem else '-',
            f'{common.mib(mem["peak_rss"]):.0f}' if mem else '-'
        ])
    lines.append(common.md_table(
        ['arm', 'median s/iter', 'min s/iter', 'trainable params (M)',
         'step peak (MiB)', 'process peak (MiB)'], rows))
    lines.append('')
    checks = [('AttnFD / floor (c/b)', 'attnfd', 'floor', 1.10),
              ('CWD / floor (d/b)', 'cwd', 'floor', None),
              ('axial SD / student (e/a)', 'axial_sd', 'student', None)]
    rows = []
    for label, num, den, target in checks:
        t = _paired_ratio(results['arms'], num, den)
        t_min = _ratio(results['arms'], num, den, 'min_s')
        ms = _ratio(results['memory'], num, den, 'step_peak')
        mp = _ratio(results['memory'], num, den, 'peak_rss')
        if t is None:
            continue
        verdict = '-'
        if target is not None:
            def mark(v):
                return 'n/a' if v is None else (
                    'met' if v <= target else 'NOT met')

            verdict = (f'<= {target:.2f}: time {mark(t)}, step memory '
                       f'{mark(ms)}, process memory {mark(mp)}')
        rows.append([
            label, f'{t:.4f}', f'{t_min:.4f}', f'{ms:.4f}' if ms else '-',
            f'{mp:.4f}' if mp else '-', verdict
        ])
    lines.append(common.md_table(
        ['ratio', 'time (median of per-round ratios)',
         'time (ratio of minima)',
         'step peak',
         'process peak', 'target'], rows))
    return '\n'.join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--arms', nargs='+', default=list(DEFAULT_ARMS),
                        choices=ALL_ARMS)
    parser.add_argument('--size', nargs=2, type=int, default=[180, 240],
                        metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--num-classes', type=int, default=11)
    parser.add_argument('--teacher-depth', type=int, default=50,
                        choices=(50, 101))
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--iters', type=int, default=6)
    parser.add_argument('--mem-iters', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1,
                        help='torch intra-op threads (default 1: on a '
                        'shared, loaded machine a multi-threaded step waits '
                        'for its slowest thread, which makes timings noisy)')
    parser.add_argument('--no-memory', action='store_true')
    parser.add_argument('--out-dir', default=common.RESULTS_DIR)
    parser.add_argument('--name', default='overhead_cpu')
    parser.add_argument('--no-readme', action='store_true')
    parser.add_argument('--memory-worker', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _worker_argv(arm, args):
    return [
        osp.abspath(__file__), '--memory-worker', arm, '--size',
        str(args.size[0]), str(args.size[1]), '--batch', str(args.batch),
        '--num-classes', str(args.num_classes), '--teacher-depth',
        str(args.teacher_depth), '--mem-iters', str(args.mem_iters),
        '--threads', str(args.threads)
    ]


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    if args.memory_worker:
        import json
        print(json.dumps(measure_memory(args.memory_worker, args)))
        return {}
    info = common.machine_info()
    results = dict(machine=info, args=vars(args), arms={}, memory={})
    results['arms'] = measure_time(args.arms, args)
    if not args.no_memory:
        for arm in args.arms:
            print(f'memory: {arm}', flush=True)
            results['memory'][arm] = common.run_json_subprocess(
                _worker_argv(arm, args))
    results['machine']['loadavg_1m_end'] = round(
        __import__('os').getloadavg()[0], 2)
    text = report(results, args, info)
    common.save_results(args.out_dir, args.name, text, results,
                        readme=not args.no_readme)
    print(text)
    return results


if __name__ == '__main__':
    main()
