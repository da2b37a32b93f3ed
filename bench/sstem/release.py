# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Release the ssTEM study's seed-0 models to the model zoo.

Twelve rows: each of the six architectures of ``configs/sstem256/`` as the
plain model (``baseline``) and as the axial self-distillation student
(``sd``, released as the plain model its config wraps). The recorded runs
of ``bench/results/sstem_study_cpu.json`` kept no checkpoint, so the
released ones are trained again by the study's own command, in a work
root and an out dir of their own (there the committed records restore
nothing):

    python bench/sstem/run.py --protocol cpu --seeds 0 --arms baseline sd \\
        --work-root bench/cache/sstem-zoo --out-dir bench/cache/sstem-zoo
    python bench/sstem/release.py --work-root bench/cache/sstem-zoo
    python tools/misc/gen_model_zoo_table.py     # README tables

Only a run of the shipped config under the cpu protocol is released (its
settings digest must be the config's; a run with ``--width``, ``--iters``
or ``--sd-*`` options is refused), so the metafile's config is what
trained the file. Each row goes through :class:`bench.lib.zoo.StudyZoo`:
``tools/publish_model.py`` (weights only, fp16 storage, OpenMMLab name
with the SHA-256 prefix, the JSON log), parameters and FLOPs (one 256x256
window), training time, and MMSeg's test loop on the released,
hash-checked file (sliding window, the config's ``test_cfg``), which must
give the run's own test mIoU within 0.01 (otherwise fp32). The log is
``bench/results/sstem_release.json``. Work roots are machine-local, so the
hardware named is this machine's, the one that trained the runs.
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Tuple, Union

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench.lib import common, runs  # noqa: E402
from bench.lib.zoo import StudyZoo  # noqa: E402
from bench.sstem.arms import (ARCH_NAMES, ARCHS, CONFIG_DIR,  # noqa: E402
                              CONFIGS)
from bench.sstem.config import run_config_sha, run_dir  # noqa: E402

#: Released rows: key -> (architecture, arm), baselines first (a student's
#: row names its baseline's released mIoU).
RELEASES: Dict[str, Tuple[str, str]] = {
    f'{arch}_{arm}': (arch, arm) for arm in ('baseline', 'sd')
    for arch in ARCHS}
SEED = 0
ZOO = StudyZoo(metafile=osp.join(REPO, CONFIG_DIR, 'metafile.yml'),
               zoo_dir='zoo/sstem256',
               collection='Drosophila ssTEM 256x256 (CPU study)',
               dataset='Drosophila ssTEM', input_shape=(256, 256))


def _config(arch: str, arm: str) -> str:
    return osp.join(REPO, CONFIG_DIR, CONFIGS[(arch, arm)])


def finished_run(args, arch: str, arm: str) -> Union[dict, str]:
    """The seed-0 run of ``arch``/``arm`` in ``args.work_root`` with its
    checkpoint, or why it cannot be released (one line)."""
    work = run_dir(args, arch, arm, SEED)
    path = osp.join(work, 'result.json')
    if not osp.isfile(path):
        return (f'no finished seed-0 run in {work}; train it with '
                'bench/sstem/run.py (see this script\'s docstring)')
    with open(path) as f:
        result = json.load(f)
    if result.get('restored_from'):
        return (f'{work} was restored from {result["restored_from"]} and '
                'has no checkpoint; train it with its own --out-dir')
    want = run_config_sha(arch, arm, SEED, args, args.data_dir)
    if result.get('config_sha') != want:
        return (f'{work} was trained with other settings than '
                f'{CONFIGS[(arch, arm)]} under the cpu protocol; only '
                'runs of the shipped config are released')
    ckpt = runs.last_checkpoint(work)
    if ckpt is None:
        return f'{work} has no checkpoint left; train it again'
    return dict(result, work_dir=work, checkpoint_path=ckpt)


def publish_args(arch: str, arm: str, baseline: float = None) -> List[str]:
    """What ``tools/publish_model.py`` is told besides the common ones."""
    extra = ['--student-name', ARCH_NAMES[arch], '--student-config',
             _config(arch, 'baseline')]
    if arm == 'sd':  # the student, as the plain model of its config
        extra.append('--student-only')
        if baseline is not None:
            extra += ['--student-baseline', str(baseline)]
    return extra


def release(arch: str, arm: str, run: dict, data_dir: str,
            hardware: str) -> dict:
    """Publish, describe and score one row (fp32 if fp16 misses)."""
    config = _config(arch, arm)
    baseline = ZOO.released_miou(osp.splitext(CONFIGS[(arch,
                                                       'baseline')])[0])
    extra = publish_args(arch, arm, baseline)
    row = ZOO.release(
        lambda fp16, tmp: ZOO.publish(run['checkpoint_path'],
                                      run['work_dir'], config, fp16,
                                      hardware, extra),
        run['test']['mIoU'],
        round(float(run['train_logged_s']), 1),
        {'test_dataloader.dataset.data_root': data_dir})
    return dict(row, arch=arch, arm=arm, seed=SEED)


def main(argv=None) -> List[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--work-root', required=True,
                   help='the --work-root the runs were trained in')
    p.add_argument('--data-dir',
                   default=osp.join(REPO, 'bench', 'cache', 'sstem-scale0.5'),
                   help='the converted sections the runs used (their test '
                   'split scores the released files)')
    p.add_argument('--out-dir', default=osp.join(REPO, 'bench', 'results'),
                   help='folder of sstem_release.json (committed)')
    p.add_argument('--only', nargs='+', choices=sorted(RELEASES))
    a = p.parse_args(argv)
    from bench.sstem.run import parse_args as study_args
    from mmseg_attnkd.release.publish import sha256_of_file
    args = study_args(['--protocol', 'cpu', '--work-root', a.work_root,
                       '--data-dir', a.data_dir])
    info = common.machine_info()
    log = osp.join(a.out_dir, 'sstem_release.json')
    done = []
    for key in a.only or list(RELEASES):
        arch, arm = RELEASES[key]
        run = finished_run(args, arch, arm)
        if isinstance(run, str):
            print(f'[release] {key}: {run}', flush=True)
            continue
        hardware = (f'1x CPU ({info["cpu"]}), {run["threads"]} thread(s), '
                    f'{run["jobs"]} runs at a time')
        row = ZOO.release_once(
            log, key, CONFIGS[(arch, arm)],
            sha256_of_file(run['checkpoint_path']),
            lambda: release(arch, arm, run, a.data_dir, hardware))
        if row is not None:
            done.append(row)
    return done


if __name__ == '__main__':
    main()
