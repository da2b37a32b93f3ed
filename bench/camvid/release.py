# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Release the CamVid study's seed-0 models to the model zoo.

The zoo publishes what the study trained (no second training). For every
finished seed-0 run of :data:`RELEASES`, in order:

1. ``tools/publish_model.py``: weights only (a distilled model as its plain
   student, the axial SD teacher output converted to ``AxialRefineHead``
   first), fp16 storage, an OpenMMLab name with the SHA-256 prefix, the
   JSON training log beside it, an entry in ``configs/camvid240/
   metafile.yml`` whose ``Config`` is the plain config that loads the file;
2. parameters, FLOPs (one 180x240 image), training time and hardware from
   the model and the study's record;
3. ``tools/misc/zoo_results.py``: MMSeg's test loop on the released file
   (downloaded and hash-checked) writes ``Results``; that mIoU must equal
   the run's own test mIoU (fp32 checkpoint) within 0.01, otherwise the
   file is released again in fp32 and scored again.

What was released is logged in ``bench/results/camvid_v2_release.json``
(``--out-dir``): per row the source checkpoint's SHA-256, the file, its
size and dtype, and the released file's test mIoU beside the run's; a
model released from the same checkpoint is not released again.

Example::

    python bench/camvid/release.py --work-root bench/cache/camvid-v2
    python tools/misc/gen_model_zoo_table.py     # README tables
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench.lib import common, runs  # noqa: E402
from bench.lib.zoo import (StudyZoo, config_stem, run_tool,  # noqa: E402
                           train_seconds)
from bench.camvid.arms import ARMS, CONFIG_DIR  # noqa: E402

#: Released rows: name -> (study arm, config of the released file, how).
#: The teacher (6.3 MB even in fp16) is not released into the repository,
#: whose tracked files outside demo/ stay small; distilled rows name its
#: config and its test mIoU from the study's record.
#: ``plain``: the run's model as it is; ``student``: a distillation run's
#: student; ``refine``: the axial SD run's teacher output.
RELEASES: Dict[str, tuple] = {
    'baseline': ('baseline', ARMS['baseline'], 'plain'),
    'baseline_2x': ('baseline_2x', ARMS['baseline_2x'], 'plain'),
    'kd': ('kd', ARMS['kd'], 'student'),
    'cwd': ('cwd', ARMS['cwd'], 'student'),
    'dist': ('dist', ARMS['dist'], 'student'),
    'attnfd': ('attnfd', ARMS['attnfd'], 'student'),
    'sd': ('sd', ARMS['sd'], 'student'),
    'sd_teacher_output': (
        'sd', 'axial-refine_deeplabv3plus_r18-w16-d16_1xb8-2k_'
        'camvid-240x180.py', 'refine'),
    'attnfd_sd': ('attnfd_sd', ARMS['attnfd_sd'], 'student'),
}
ZOO = StudyZoo(metafile=osp.join(REPO, CONFIG_DIR, 'metafile.yml'),
               zoo_dir='zoo/camvid240',
               collection='CamVid 240x180 (CPU study)',
               dataset='CamVid 240x180', input_shape=(180, 240))
NAMES = dict(teacher='DeepLabV3+ R18-w32-D8', student='DeepLabV3+ R18-w16-D16')


def _config(name: str) -> str:
    return osp.join(REPO, CONFIG_DIR, name)


def release(key: str, rec: dict, data_root: str) -> dict:
    """Publish, describe and score one row (fp32 if fp16 misses)."""
    arm, config, how = RELEASES[key]
    baseline = ZOO.released_miou(config_stem(ARMS['baseline']))
    teacher = None
    if rec.get('uses_teacher'):  # its config and the study's test mIoU
        teacher = dict(Config=osp.join(CONFIG_DIR, ARMS['teacher']),
                       Results=[dict(Metrics=dict(mIoU=round(
                           rec['teacher_test_mIoU'], 2)))])
    extra = []
    if key != 'teacher':
        extra += ['--student-name', NAMES['student'], '--student-config',
                  _config(ARMS['baseline'])]
        if baseline is not None and key != 'baseline':
            extra += ['--student-baseline', str(baseline)]
    if how == 'student':
        extra.append('--student-only')
    if teacher is not None:
        extra += ['--teacher-name', NAMES['teacher'], '--teacher-config',
                  teacher['Config']]

    def publish_row(fp16: bool, tmp: str) -> str:
        src = rec['checkpoint_path']
        if how == 'refine':  # the axial teacher output as a plain model
            src = osp.join(tmp, 'teacher_output.pth')
            run_tool('tools/model_converters/'
                     'convert_axial_ckpt_to_refine_head.py',
                     osp.join(rec['work_dir'], 'config.py'),
                     rec['checkpoint_path'], src)
        return ZOO.publish(src, rec['work_dir'], _config(config), fp16,
                           f'1x CPU ({rec.get("cpu")})', extra)

    want = rec['teacher_output_test_mIoU'] if how == 'refine' \
        else rec['test_mIoU']
    row = ZOO.release(publish_row, want, train_seconds(rec),
                      {'test_dataloader.dataset.data_root': data_root},
                      teacher)
    return dict(row, arm=arm, seed=rec['seed'])


def main(argv=None) -> List[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--work-root',
                   default=osp.join(REPO, 'bench', 'cache', 'camvid-v2'))
    p.add_argument('--results', default=osp.join(REPO, 'bench', 'results'),
                   help='folder of camvid_v2_cpu.json')
    p.add_argument('--out-dir', default=osp.join(REPO, 'bench', 'results'),
                   help='folder of camvid_v2_release.json (committed)')
    p.add_argument('--only', nargs='+', choices=sorted(RELEASES))
    a = p.parse_args(argv)
    from mmseg_attnkd.release.publish import sha256_of_file
    with open(osp.join(a.results, 'camvid_v2_cpu.json')) as f:
        records = {r['key']: r for r in json.load(f)['runs']}
    out = osp.join(a.out_dir, 'camvid_v2_release.json')
    data_root = osp.join(a.work_root, 'camvid240')
    teacher_rec = records.get('teacher_seed0') or {}
    done = []
    for key in a.only or list(RELEASES):
        rec = records.get(f'{RELEASES[key][0]}_seed0')
        work = osp.join(a.work_root, f'{RELEASES[key][0]}_seed0')
        ckpt = runs.last_checkpoint(work)
        if rec is None or ckpt is None:
            print(f'[release] {key}: no finished seed-0 run in {work}')
            continue
        # records name paths outside the repository by base name only
        rec = dict(rec, work_dir=work, checkpoint_path=ckpt,
                   teacher_test_mIoU=teacher_rec.get('test_mIoU'))
        row = ZOO.release_once(
            out, key, RELEASES[key][1], sha256_of_file(ckpt),
            lambda: release(key, rec, data_root))
        if row is not None:
            done.append(row)
    return done


if __name__ == '__main__':
    main()
