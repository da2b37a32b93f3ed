# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Quick regression run of the benchmarks (``make bench-quick``).

Runs reduced forms of ``overhead.py`` (64x64 inputs), ``parity.py`` (small
inputs, one latency run) and ``axial_scaling.py`` (16x16 and 32x32) and
writes them to ``bench/results/quick/``; about 5-10 minutes on 2 cores.
Exits non-zero if a hard check fails: the AttnFD export must have the
baseline's parameter count, FLOPs and outputs exactly, the axial export must
reproduce the training teacher output, and axial attention must use less
memory than full attention at 32x32. Timing ratios are printed, not
enforced (they depend on machine load).
"""
import os.path as osp
import sys
import time

if __package__ in (None, ''):
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from bench.axial_scaling import run as axial_scaling  # noqa: E402
from bench.lib import common  # noqa: E402
from bench.overhead import run as overhead  # noqa: E402
from bench.parity import run as parity  # noqa: E402

QUICK_DIR = osp.join(common.RESULTS_DIR, 'quick')


def main(argv=None) -> int:
    start = time.time()
    failures = []
    out = ['--out-dir', QUICK_DIR]

    par = parity.main(['--sizes', '64x128:19', '--attnfd-size', '64', '64',
                       '--runs', '1', *out])
    a = par['attnfd']
    if not (a['params_ratio'] == 1.0 and a['flops_ratio'] == 1.0
            and a['bit_identical']):
        failures.append(f'AttnFD export parity: {a}')
    for r in par['axial']:
        if not r['identical']:
            failures.append(f'axial export differs from training teacher '
                            f'output (max |diff| {r["max_abs_diff"]})')

    scal = axial_scaling.main(['--sizes', '16', '32', '--modes', 'train',
                               '--runs', '1', *out])
    pts = scal['points']['train']
    if pts['axial']['32']['peak_increment'] >= \
            pts['full']['32']['peak_increment']:
        failures.append('axial attention used no less memory than full '
                        'attention at 32x32')

    # the demo scale only, no block phase: a smoke of the timing paths
    overhead.main(['--size', '64', '64', '--warmup', '1', '--rounds', '2',
                   '--mem-iters', '1', '--scales', 'demo', '--no-block',
                   '--arms', 'student', 'axial_sd', 'floor', 'attnfd',
                   'cwd', *out])

    print(f'\nbench-quick finished in {time.time() - start:.0f}s; results in '
          f'{common.rel(QUICK_DIR)}')
    for f in failures:
        print(f'FAILED: {f}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
