# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The CamVid v2 study's phases, declared before their results, run in order.

1. ``seed0``: seed 0 of every arm (:data:`~bench.camvid.arms.ARMS` and the
   v2 candidates).
2. ``timing``: the one-machine step times (``timing.py``), alone on the
   machine; skipped once ``camvid_steptimes_cpu.json`` exists.
3. ``seed1``: seed 1 of every candidate of :data:`~bench.camvid.report.
   FAMILIES`, of the controls and of the reduced-precision pairs.
4. ``seed2``: seed 2 of each family's winner on val (seeds 0 and 1,
   :func:`~bench.camvid.report.choices`), of the controls and of the
   reduced-precision pairs: test scored on 3 paired seeds.

Each phase calls ``run.py`` (or ``timing.py``) of ``--repo``, the frozen
clone the study runs from, which skips finished runs; so the plan is
restarted as it is after an interruption and goes on where it stopped.

Example::

    OMP_NUM_THREADS=1 nohup python bench/camvid/plan.py \\
        --repo ../camvid-v2-frozen --data-root ../shared/data/camvid_segnet \\
        --work-root bench/cache/camvid-v2 --out-dir bench/cache/camvid-v2 &
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench.camvid.arms import ARMS, V2_ARMS  # noqa: E402
from bench.camvid.report import (FAMILIES, PRECISION_PAIRS,  # noqa: E402
                                 by_arm, choices)

PHASES = ('seed0', 'timing', 'seed1', 'seed2')
#: the compute-matched line and the controls of axial SD
CONTROLS = ('baseline', 'baseline_2x', 'ce2', 'ls')
#: the teacher in bf16 and its fp32 twin, for the paired accuracy effect
PRECISION_ARMS = tuple(arm for pair in PRECISION_PAIRS for arm in pair)


def _unique(names) -> List[str]:
    return list(dict.fromkeys(names))


def phase_arms(phase: str, records: Optional[Dict] = None) -> List[str]:
    """The arms a training phase runs; ``seed2`` needs the records of
    seeds 0 and 1 (``{'runs': [...]}``) for the winners."""
    if phase == 'seed0':
        return _unique(list(ARMS) + list(V2_ARMS))
    if phase == 'seed1':
        return _unique([n for names in FAMILIES.values() for n in names] +
                       list(CONTROLS) + list(PRECISION_ARMS))
    if phase == 'seed2':
        winners = choices(by_arm((records or {}).get('runs', [])))
        missing = sorted(set(FAMILIES) - set(winners))
        if missing:
            raise SystemExit(f'no val choice for {missing}: phase seed1 has '
                             'not finished; run the plan from its start.')
        return _unique([winners[f] for f in FAMILIES] + list(CONTROLS) +
                       list(PRECISION_ARMS))
    raise ValueError(f'{phase!r} trains nothing; phases: {PHASES}')


def _run(cmd: List[str], repo: str) -> None:
    env = dict(os.environ, PYTHONPATH=repo)
    print('[plan] ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=repo, env=env)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repo', default=REPO,
                   help='the frozen clone whose run.py and timing.py run')
    p.add_argument('--data-root', required=True,
                   help='SegNet CamVid (train/, val/, test/, *annot/)')
    p.add_argument('--work-root', required=True)
    p.add_argument('--out-dir', required=True,
                   help='folder of camvid_v2_cpu.json and the step times')
    p.add_argument('--through', choices=PHASES, default=PHASES[-1],
                   help='last phase to run')
    a = p.parse_args(argv)
    repo = osp.abspath(a.repo)
    data_root = osp.abspath(a.data_root)
    work_root, out_dir = osp.abspath(a.work_root), osp.abspath(a.out_dir)
    records_path = osp.join(out_dir, 'camvid_v2_cpu.json')
    for phase in PHASES[:PHASES.index(a.through) + 1]:
        if phase == 'timing':
            if osp.isfile(osp.join(out_dir, 'camvid_steptimes_cpu.json')):
                continue
            _run([sys.executable, 'bench/camvid/timing.py', '--data-root',
                  osp.join(work_root, 'camvid240'), '--out-dir', out_dir],
                 repo)
            continue
        records = None
        if phase == 'seed2':
            with open(records_path) as f:
                records = json.load(f)
        _run([sys.executable, 'bench/camvid/run.py', '--data-root',
              data_root, '--seeds', phase[-1], '--arms',
              *phase_arms(phase, records), '--work-root', work_root,
              '--out-dir', out_dir], repo)


if __name__ == '__main__':
    main()
