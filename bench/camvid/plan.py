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
5. ``sstem``: the axial SD winner on the ssTEM study (``bench/sstem/
   run.py --sd-v2``, 6 architectures x 2 seeds, both outputs scored) in
   ``<work-root>/sstem-v2``; the committed baseline and CE x2 runs
   (``bench/results/sstem_study_cpu.json`` of ``--repo``) are restored,
   not trained again, and so are the phase's own runs of earlier sessions
   once committed as ``bench/results/sstem_sd_v2_cpu.json``. Nothing to
   run when the winner is today's ``sd``.

Each phase calls ``run.py`` (or ``timing.py``) of ``--repo``, the frozen
clone the study runs from, which skips finished runs; so the plan is
restarted as it is after an interruption and goes on where it stopped.

Example::

    OMP_NUM_THREADS=1 nohup python bench/camvid/plan.py \\
        --repo ../camvid-v2-frozen --data-root ../shared/data/camvid_segnet \\
        --work-root bench/cache/camvid-v2 --out-dir bench/cache/camvid-v2 \\
        --sstem-data-root ../shared/data/drosophila_sstem &
"""
import argparse
import json
import os
import os.path as osp
import shutil
import subprocess
import sys
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench.camvid.arms import ARMS, V2_ARMS  # noqa: E402
from bench.camvid.report import (FAMILIES, PRECISION_PAIRS,  # noqa: E402
                                 by_arm, choices)

PHASES = ('seed0', 'timing', 'seed1', 'seed2', 'sstem')
#: the compute-matched line and the controls of axial SD
CONTROLS = ('baseline', 'baseline_2x', 'ce2', 'ls')
#: the teacher in bf16 and its fp32 twin, for the paired accuracy effect
PRECISION_ARMS = tuple(arm for pair in PRECISION_PAIRS for arm in pair)
#: Phase ``sstem``'s records as committed (``bench/results``), finished
#: runs of earlier sessions included; restored, never trained again.
SSTEM_V2_RECORDS = osp.join(REPO, 'bench', 'results', 'sstem_sd_v2_cpu.json')


def _unique(names) -> List[str]:
    return list(dict.fromkeys(names))


def _winners(records: Optional[Dict]) -> Dict[str, str]:
    winners = choices(by_arm((records or {}).get('runs', [])))
    missing = sorted(set(FAMILIES) - set(winners))
    if missing:
        raise SystemExit(f'no val choice for {missing}: phase seed1 has '
                         'not finished; run the plan from its start.')
    return winners


def phase_arms(phase: str, records: Optional[Dict] = None) -> List[str]:
    """The CamVid arms a training phase runs; ``seed2`` and ``sstem`` need
    the records of seeds 0 and 1 (``{'runs': [...]}``) for the winners
    (``sstem``: the axial SD winner, none when it is today's ``sd``)."""
    if phase == 'sstem':
        winner = _winners(records)['axial_sd']
        return [] if winner == 'sd' else [winner]
    if phase == 'seed0':
        return _unique(list(ARMS) + list(V2_ARMS))
    if phase == 'seed1':
        return _unique([n for names in FAMILIES.values() for n in names] +
                       list(CONTROLS) + list(PRECISION_ARMS))
    if phase == 'seed2':
        winners = _winners(records)
        return _unique([winners[f] for f in FAMILIES] + list(CONTROLS) +
                       list(PRECISION_ARMS))
    raise ValueError(f'{phase!r} trains nothing; phases: {PHASES}')


def _run(cmd: List[str], repo: str) -> None:
    env = dict(os.environ, PYTHONPATH=repo)
    print('[plan] ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=repo, env=env)


def _sstem(repo: str, records: Dict, data_root: str, work_root: str) -> None:
    """Phase ``sstem`` (see the module docstring)."""
    arms = phase_arms('sstem', records)
    if not arms:
        print('[plan] sstem: the axial SD winner is today\'s sd; the ssTEM '
              'study already holds it', flush=True)
        return
    out = osp.join(work_root, 'sstem-v2')
    committed = osp.join(out, 'sstem_study_cpu.json')
    if not osp.isfile(committed):  # the finished runs it restores
        os.makedirs(out, exist_ok=True)
        # the phase's own committed records (they hold the restored runs
        # too) when an earlier session left some, else the study's
        source = SSTEM_V2_RECORDS if osp.isfile(SSTEM_V2_RECORDS) else \
            osp.join(repo, 'bench', 'results', 'sstem_study_cpu.json')
        shutil.copyfile(source, committed)
    _run([sys.executable, 'bench/sstem/run.py', '--protocol', 'cpu',
          '--sd-v2', arms[0], '--data-root', osp.abspath(data_root),
          '--data-dir', osp.join(out, 'data'), '--work-root', out,
          '--out-dir', out], repo)


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
    p.add_argument('--sstem-data-root', default=None,
                   help='ssTEM release folder (raw/, labels/) for phase '
                   'sstem')
    a = p.parse_args(argv)
    if a.through == 'sstem' and not a.sstem_data_root:
        p.error('phase sstem needs --sstem-data-root (the ssTEM release '
                'folder with raw/ and labels/), or stop earlier with '
                '--through seed2.')
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
        if phase in ('seed2', 'sstem'):
            with open(records_path) as f:
                records = json.load(f)
        if phase == 'sstem':
            _sstem(repo, records, a.sstem_data_root, work_root)
            continue
        _run([sys.executable, 'bench/camvid/run.py', '--data-root',
              data_root, '--seeds', phase[-1], '--arms',
              *phase_arms(phase, records), '--work-root', work_root,
              '--out-dir', out_dir], repo)


if __name__ == '__main__':
    main()
