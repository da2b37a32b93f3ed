# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The CamVid protocol's report: ``accuracy_<protocol>.{md,json,png}``.

Numbers on test are reported once per finished run (its final checkpoint);
every choice (AttnFD and axial-SD settings) is made on val. :func:`save`
writes the results of a running protocol (finished runs of earlier
invocations kept), :func:`report_only` rebuilds them from the JSON
(``python bench/accuracy/run.py --report-only``).
"""
import json
import os.path as osp
from typing import Dict, List, Optional

from bench.accuracy import arms
from bench.accuracy.plot import plot
from bench.accuracy.records import record_machines
from bench.accuracy.render import render, write_method_sections
from bench.lib import common


def _meta(state) -> Dict:
    args = state.args
    return dict(protocol=args.protocol, proto=args.proto,
                machine=state.info, argv=args.argv, iters=args.iters,
                teacher_iters=args.teacher_iters, attnfd=args.attnfd,
                sd=args.sd, chosen=args.chosen,
                wall_h=(__import__('time').time() - state.start) / 3600,
                failed=list(state.failed))


#: Meta keys that must match for results files to be merged.
SCHEDULE_KEYS = ('protocol', 'iters', 'teacher_iters')


def earlier_results(path: str, meta: Optional[Dict] = None) -> Optional[Dict]:
    """The results file at ``path``, if it exists and (given ``meta``) is
    of the same protocol and schedule."""
    if not osp.isfile(path):
        return None
    with open(path) as f:
        data = json.load(f)
    if meta and any(data.get('meta', {}).get(k) != meta.get(k)
                    for k in SCHEDULE_KEYS):
        return None
    return data


def merged_runs(path: str, runs: List[dict],
                meta: Optional[Dict] = None) -> List[dict]:
    """``runs`` plus the runs of an earlier results file at ``path`` that
    this invocation did not run (e.g. the main table when only extra arms
    were asked for), so no finished run drops out of the results; only from
    a file of the same protocol and schedule."""
    earlier = (earlier_results(path, meta) or {}).get('runs', [])
    have = {(r['arm'], r['seed']) for r in runs}
    return list(runs) + [r for r in earlier
                         if (r['arm'], r['seed']) not in have]


def merged_meta(path: str, meta: Dict, runs: List[dict]) -> Dict:
    """This invocation's meta, or, when it trained extra arms only (e.g.
    ``--arms at ofd --seeds 0`` after the main table), the earlier file's
    meta with this invocation added under ``extra_invocations``: the command
    and val choice the report prints must stay those of the main table."""
    trained = [r['arm'] for r in runs if not r.get('restored_from')]
    if not trained or any(a not in arms.EXTRA_ARMS for a in trained):
        return meta
    earlier = (earlier_results(path, meta) or {}).get('meta')
    if not earlier:
        return meta
    extra = [e for e in earlier.get('extra_invocations', [])
             if e['argv'] != meta['argv']]
    extra.append({k: meta[k] for k in ('argv', 'machine', 'wall_h',
                                       'failed')})
    return dict(earlier, extra_invocations=extra)


def save(state, final: bool) -> None:
    """Write ``accuracy_<protocol>.{md,json,png}`` to ``--out-dir``."""
    args = state.args
    name = f'accuracy_{args.protocol}'
    path = osp.join(args.out_dir, f'{name}.json')
    meta = merged_meta(path, _meta(state), state.results)
    runs = merged_runs(path, state.results, meta)
    machines = record_machines(
        args.out_dir, args.protocol,
        [r for r in state.results if not r.get('restored_from')], state.info)
    text = render(runs, meta, machines)
    plot(runs, osp.join(args.out_dir, f'{name}.png'), machines)
    common.save_results(args.out_dir, name, text, dict(meta=meta, runs=runs),
                        readme=final)
    if final and common.is_results_dir(args.out_dir):
        write_method_sections(runs, meta, machines)


def report_only(args) -> List[dict]:
    name = f'accuracy_{args.protocol}'
    path = osp.join(args.out_dir, f'{name}.json')
    if not osp.isfile(path):
        raise SystemExit(f'{path} does not exist: run the protocol first.')
    with open(path) as f:
        data = json.load(f)
    machines = record_machines(
        args.out_dir, args.protocol, data['runs'],
        common.machine_info() if args.timed_here else None)
    text = render(data['runs'], data['meta'], machines)
    plot(data['runs'], osp.join(args.out_dir, f'{name}.png'), machines)
    common.save_results(args.out_dir, name, text, readme=True)
    if common.is_results_dir(args.out_dir):
        write_method_sections(data['runs'], data['meta'], machines)
    print(text)
    return data['runs']
