# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Step times of the ssTEM study's models (``--measure-steps``): sizing a
protocol before it runs.
"""
import statistics
import time

from bench.lib import common
from bench.sstem.arms import ARCH_NAMES, NUM_CLASSES, arm_model, build
from bench.sstem.config import optimizer_cfg
from bench.sstem.cost import latency_ms


# ---------------------------------------------------------------------------
# step times (sizing the protocols)
# ---------------------------------------------------------------------------
def measure_steps(args) -> str:
    """Time a few training steps per (arch, arm) on synthetic batches and
    estimate the protocol's total time."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import DefaultScope
    torch.set_num_threads(args.threads)
    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    rows, est = [], 0.0
    side = int(round(1024 * args.scale))
    for arch in args.archs:
        per_arm = {}
        for arm in ('baseline', 'sd'):
            model = build(arm_model(arch, arm, args)).to(device)
            model.train()
            with DefaultScope.overwrite_default_scope('mmseg'):
                optim = build_optim_wrapper(model, dict(
                    type='OptimWrapper',
                    optimizer=optimizer_cfg(args.optimizer, args.lr)))
            # the data preprocessor puts the batch on the model's device
            batch = common.synthetic_batch(model, args.batch, args.crop,
                                           NUM_CLASSES)
            times, cpu = [], []
            for i in range(args.measure_steps + 1):
                start, start_cpu = time.perf_counter(), time.process_time()
                losses = model(**batch, mode='loss')
                loss, _ = model.parse_losses(losses)
                optim.update_params(loss)
                if device == 'cuda':
                    torch.cuda.synchronize()
                if i:
                    times.append(time.perf_counter() - start)
                    cpu.append(time.process_time() - start_cpu)
            # on a shared CPU the wall time depends on the load; the CPU
            # seconds of one thread do not (estimates use them)
            per_arm[arm] = statistics.median(
                cpu if device == 'cpu' and args.threads == 1 else times)
            per_arm[f'{arm}_wall'] = statistics.median(times)
            if arm == 'baseline' and device == 'cpu':
                model.eval()
                start_cpu = time.process_time()
                latency_ms(model.cpu(), (side, side), 1)
                per_arm['slide_s'] = (time.process_time() - start_cpu) / 2
        # ce2 costs what the baseline costs. Evaluation passes over the 4
        # val/test sections per run: every val (SD: both outputs), then at
        # the end val slide + whole (whole ~ half a slide pass) and test
        # (SD: both outputs, plus the exported model on test), test whole
        n_val = args.iters // args.val_interval
        train = (2 * per_arm['baseline'] + per_arm['sd']) * args.iters
        passes = 4 * (n_val + 3) + 1
        evals = per_arm.get('slide_s', 0.0) * 4 * passes
        run_s = train + evals
        est += run_s * len(args.seeds)
        rows.append([ARCH_NAMES[arch], f'{per_arm["baseline"]:.3f}',
                     f'{per_arm["sd"]:.3f}',
                     f'{per_arm["sd"] / per_arm["baseline"]:.2f}',
                     f'{per_arm.get("slide_s", float("nan")):.2f}',
                     f'{run_s / 60:.1f}'])
    jobs = max(args.jobs, 1)
    text = '\n'.join([
        f'### ssTEM study step times, {args.protocol} protocol ({device})',
        '', f'Machine: {common.machine_line(common.machine_info())}. '
        f'Synthetic batches of {args.batch} x {args.crop[1]}x'
        f'{args.crop[0]}, base width {args.width} (UNet '
        f'{args.unet_width}), '
        f'{args.threads} thread(s), median of {args.measure_steps} steps '
        'after one warm-up (data loading not included); '
        + ('CPU seconds of one thread (independent of the load of a shared '
           'machine).' if device == 'cpu' and args.threads == 1 else
           'wall seconds.'), '',
        common.md_table(['architecture', 'baseline s/iter', 'SD s/iter',
                         'SD / baseline', 'slide inference of one section '
                         '(s, student, CPU)',
                         f'3 arms x {args.iters} iters (min)'], rows), '',
        f'Estimate for {len(args.seeds)} seed(s), {len(args.archs)} '
        f'architectures, 3 arms, {args.iters} iterations, val every '
        f'{args.val_interval}: {est / 3600:.2f} h of the measured unit '
        '(training and evaluation, no data loading)'
        + (f'; {jobs} runs at a time, one core each: '
           f'{est / 3600 / jobs:.2f} h' if device == 'cpu'
           and args.threads == 1 and jobs > 1 else
           f'; with 2 threads at an assumed 1.5x speed-up: '
           f'{est / 3600 / 1.5:.2f} h' if device == 'cpu'
           and args.threads == 1 else f', {jobs} job(s) at a time') +
        '. The logged s/iter of real runs is the reference.'])
    return text
