# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Finished runs of the CamVid protocol as the report reads them.

Runs plus the exported axial teacher outputs as pseudo-arms, grouped by arm
and seed; training time in plain-student steps; the val-based choice of the
AttnFD and axial-SD settings; the ledger of the CPU that timed each run.
"""
import json
import os.path as osp
import statistics
from typing import Dict, List, Optional

from bench.accuracy import arms
from bench.lib import common
from bench.lib.stats import mean_std


#: Pseudo-arm suffix of the exported axial teacher output of a run.
TEACHER_OUTPUT = ':teacher_output'


def expand(results: List[dict]) -> List[dict]:
    """Runs plus one pseudo-run per exported axial teacher output."""
    out = []
    for r in results:
        out.append(r)
        if 'teacher_output_test_mIoU' in r:
            out.append(dict(
                arm=r['arm'] + TEACHER_OUTPUT, seed=r['seed'],
                iters=r['iters'], test_mIoU=r['teacher_output_test_mIoU'],
                val_final=r.get('teacher_output_val_mIoU'),
                train_seconds=r.get('train_seconds', {}),
                sec_per_iter=r.get('sec_per_iter'),
                timed_on=r.get('timed_on'), val={}))
    return out


def by_arm(results: List[dict]) -> Dict[str, Dict[int, dict]]:
    table: Dict[str, Dict[int, dict]] = {}
    for r in expand(results):
        table.setdefault(r['arm'], {})[r['seed']] = r
    return table


def arm_values(runs: Dict[int, dict], key: str) -> Dict[int, float]:
    return {s: r[key] for s, r in runs.items() if r.get(key) is not None}


def final_seconds(r: dict) -> Optional[float]:
    """Training seconds of a run: median seconds/iteration x iterations.

    The median is robust to iterations slowed by other jobs or by a pause of
    the protocol (a run may be suspended while a latency benchmark runs).
    """
    if r.get('sec_per_iter') and r.get('iters'):
        return r['sec_per_iter'] * r['iters']
    return None


#: Arms that train the plain student; their step time is the unit of cost.
STUDENT_ARMS = ('baseline', 'baseline_2x')


def student_step_seconds(
        table: Dict[str, Dict[int, dict]]) -> Dict[Optional[str], float]:
    """Median s/iteration of the plain student per CPU that timed it
    (``timed_on``; None when no ledger): the unit of :func:`student_steps`."""
    per: Dict[Optional[str], List[float]] = {}
    for arm in STUDENT_ARMS:
        for r in table.get(arm, {}).values():
            if r.get('sec_per_iter'):
                per.setdefault(r.get('timed_on'), []).append(
                    r['sec_per_iter'])
    return {cpu: statistics.median(v) for cpu, v in per.items()}


def student_steps(r: dict, unit: Dict[Optional[str], float],
                   iters: Optional[int] = None) -> Optional[float]:
    """Training time of run ``r`` (its first ``iters`` iterations) in steps
    of the plain student on the same CPU; comparable across machines as
    long as they slow every model alike. None without a unit."""
    u, spi = unit.get(r.get('timed_on')), r.get('sec_per_iter')
    n = r.get('iters') if iters is None else iters
    return spi * n / u if u and spi and n else None


def choose_on_val(results: List[dict]) -> Dict[str, Optional[Dict]]:
    """Best AttnFD and axial-SD ablation settings by mean final val mIoU.

    Returns:
        dict: ``attnfd``/``sd`` settings (None when no ablation run
        finished), and ``attnfd_scores``/``sd_scores`` ``{arm: mean}``.
    """
    table = by_arm(results)
    out: Dict[str, Optional[Dict]] = {}
    attnfd = {arms.attnfd_name(s): s for size in ('full', 'small')
              for s in arms.attnfd_ablation(size)}
    for key, grid, namer in (('attnfd', list(attnfd.values()),
                              arms.attnfd_name),
                             ('sd', arms.sd_ablation(), arms.sd_name)):
        scores = {}
        for s in grid:
            ms = mean_std(arm_values(table.get(namer(s), {}),
                                  'val_final').values())
            if ms is not None:
                scores[namer(s)] = (ms.mean, s)
        if scores:
            best = max(scores, key=lambda n: scores[n][0])
            out[key] = dict(scores[best][1])
        else:
            out[key] = None
        out[f'{key}_scores'] = {n: round(v[0], 2) for n, v in scores.items()}
    return out


def attnfd_name_of(settings: Dict) -> str:
    """``fitted_tensor_w8``-style name of AttnFD settings."""
    return arms.attnfd_name(settings)[len('attnfd_'):]


def total_hours(results: List[dict]) -> float:
    return sum(final_seconds(r) or 0.0 for r in results) / 3600


def missing_runs(names: List[str], seeds: List[int],
                 results: List[dict]) -> List[str]:
    """``'<arm> seed <k>'`` of every (arm, seed) without a finished run."""
    done = {(r['arm'], r['seed']) for r in results}
    return [f'{name} seed {seed}' for seed in seeds for name in names
            if (name, seed) not in done]


def with_outputs(names) -> List[str]:
    """Arm names, each followed by its exported teacher output's row."""
    return [a for name in names for a in (name, name + TEACHER_OUTPUT)]


def with_machines(results: List[dict],
                  machines: Optional[Dict[str, str]]) -> List[dict]:
    """The runs, each marked with the CPU that timed it (``timed_on``)."""
    return [dict(r, timed_on=(machines or {}).get(run_name(r)))
            for r in results]


#: ledger of the CPU that timed each run, beside the results JSON (the
#: protocol resumes across machines; its runs do not carry the CPU)
MACHINES_FILE = 'accuracy_{protocol}_machines.json'


def run_name(r: dict) -> str:
    return f'{r["arm"]} seed {r["seed"]}'


def machine_label(info: Dict) -> str:
    return str(info.get('gpu') or f'{info["cpu"]}, {info["cores"]} cores')


def record_machines(out_dir: str, protocol: str, runs: List[dict],
                    info: Optional[Dict] = None) -> Dict[str, str]:
    """The ledger ``run -> CPU``; with ``info``, ``runs`` missing from it
    are recorded as timed on that machine (call it only on the machine that
    trained them) and the ledger is saved."""
    path = osp.join(out_dir, MACHINES_FILE.format(protocol=protocol))
    ledger: Dict[str, str] = {}
    if osp.isfile(path):
        with open(path) as f:
            ledger = json.load(f)['runs']
    new = [run_name(r) for r in runs if run_name(r) not in ledger]
    if info is not None and new:
        ledger.update({name: machine_label(info) for name in new})
        common.write_json(path, dict(runs=dict(sorted(ledger.items()))))
    return ledger
