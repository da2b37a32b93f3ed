# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial self-distillation: how large is each loss term during training?

Reads MMEngine's logged scalars of the runs under a work root (any run that
logged ``distill.loss_sd_mse``: axial SD, AttnFD + axial SD) and reports, per
arm, the student CE, the teacher-output CE and the consistency term between
the two outputs (MSE or tempered KL, read from each run's config), each
averaged over the first and the last tenth of training. It
trains nothing; point it at the run cache of a finished protocol:

    python bench/sd_loss_terms/run.py \\
        --work-root bench/cache/sstem_study/cpu \\
        --name sd_loss_terms_sstem_cpu

Writes ``<out-dir>/<name>.{md,json}`` (``bench/results`` by default; the
``sd_loss_terms_*`` sections of ``bench/README.md`` show the committed
ones).
"""
import argparse
import json
import os.path as osp
import sys
from typing import List, Optional

if __package__ in (None, ''):  # run as a script: the repository first
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from bench.lib import common  # noqa: E402
from bench.sd_loss_terms.report import report  # noqa: E402
from bench.sd_loss_terms.terms import FRACTION, TERMS, collect  # noqa: E402


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-root', required=True,
                        help='folder of run work dirs (a protocol cache)')
    parser.add_argument('--name', default='sd_loss_terms',
                        help='output file stem')
    parser.add_argument('--out-dir', default=common.RESULTS_DIR)
    parser.add_argument('--records',
                        help='records JSON of a study that keeps them in one '
                        'file (bench/results/camvid_v2_cpu.json): its runs '
                        'count as finished')
    args = parser.parse_args(argv)
    if not osp.isdir(args.work_root):
        parser.error(f'--work-root {args.work_root} is not a folder; pass '
                     'the run cache of a protocol, e.g. '
                     'bench/cache/sstem_study/cpu')
    records = None
    if args.records:
        with open(args.records) as f:
            records = {r['key']: r for r in json.load(f)['runs']}
    found = collect(args.work_root, records)
    if not found:
        parser.error(f'no run under {args.work_root} logged '
                     f'{TERMS["mse"]}; pass the cache of a protocol with '
                     'axial-SD runs')
    # a folder outside the repository by its base name only
    root = osp.relpath(osp.abspath(args.work_root), common.REPO_ROOT)
    if root.startswith('..'):
        root = osp.basename(osp.normpath(args.work_root))
    command = (f'python bench/sd_loss_terms/run.py --work-root {root} '
               f'--name {args.name}')
    if args.records:
        command += (' --records ' + osp.relpath(
            osp.abspath(args.records), common.REPO_ROOT))
    common.save_results(args.out_dir, args.name,
                        report(found, command, root),
                        dict(command=command, commit=common.git_commit(),
                             fraction=FRACTION, runs=found))
    print(osp.join(args.out_dir, f'{args.name}.md'))


if __name__ == '__main__':
    main()
