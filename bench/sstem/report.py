# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The ssTEM study's report: ``sstem_study_<protocol>.{md,json,png}`` and
the generated section of ``configs/axial_sd/README.md``.
"""
import os.path as osp
from typing import List

from bench.lib import common
from bench.lib.readme import update_readme
from bench.sstem.cost import complexity
from bench.sstem.plot import plot
from bench.sstem.render import aggregate
from bench.sstem.summary import inference_mode, run_seconds, summarize


#: README of the method, with a generated section per protocol.
AXIAL_README = osp.join(common.REPO_ROOT, 'configs', 'axial_sd', 'README.md')


def write_report(results: List[dict], args, info: dict, extra: dict) -> str:
    name = f'sstem_study_{args.protocol}'
    costs = {}
    if not args.no_cost:
        for arch in args.archs:
            costs[arch] = complexity(arch, args, tuple(extra['image']))
    extra['runs_wall_s'] = sum(
        run_seconds(r) for r in results)
    text = aggregate(results, costs, args, info, extra)
    plot(results, osp.join(args.out_dir, f'{name}.png'))
    data = dict(machine=info, extra=extra, args=_public_args(args),
                costs=costs, runs=results)
    mode, data['slide_minus_whole_val'] = inference_mode(results)
    data.update(inference_mode=mode, summary=summarize(results, mode))
    common.save_results(args.out_dir, name, text, data, readme=False)
    if common.is_results_dir(args.out_dir):
        update_readme(name, text, AXIAL_README)
    return text


def _public_args(args) -> dict:
    return {k: v for k, v in vars(args).items() if k not in ('start', )}
