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
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench.lib import common, runs  # noqa: E402
from bench.camvid.arms import ARMS, CONFIG_DIR  # noqa: E402

#: Released rows: name -> (study arm, config of the released file, how).
#: ``plain``: the run's model as it is; ``student``: a distillation run's
#: student; ``refine``: the axial SD run's teacher output.
RELEASES: Dict[str, tuple] = {
    'teacher': ('teacher', ARMS['teacher'], 'plain'),
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
ZOO_DIR = 'zoo/camvid240'
COLLECTION = 'CamVid 240x180 (CPU study)'
METAFILE = osp.join(REPO, CONFIG_DIR, 'metafile.yml')
TOLERANCE = 0.01  # mIoU points between the released file and the run
NAMES = dict(teacher='DeepLabV3+ R18-w32-D8', student='DeepLabV3+ R18-w16-D16')


def _tool(*args: str) -> None:
    subprocess.run([sys.executable, *args], cwd=REPO, check=True)


def _config(name: str) -> str:
    return osp.join(REPO, CONFIG_DIR, name)


def _entry(name: str) -> Optional[dict]:
    from mmseg_attnkd.release import model_zoo
    for model in model_zoo.load_metafile(METAFILE)['Models']:
        if model.get('Name') == name:
            return model
    return None


def _stem(config: str) -> str:
    return osp.splitext(osp.basename(config))[0]


def _released_miou(name: str) -> Optional[float]:
    entry = _entry(name) or {}
    results = entry.get('Results') or [{}]
    return (results[0].get('Metrics') or {}).get('mIoU')


def publish(key: str, rec: dict, fp16: bool, baseline: Optional[float],
            teacher: Optional[dict], tmp: str) -> str:
    """Publish one row; returns its metafile name."""
    arm, config, how = RELEASES[key]
    work = rec['work_dir']
    src = rec['checkpoint_path']
    if how == 'refine':  # the axial teacher output as a plain model
        src = osp.join(tmp, 'teacher_output.pth')
        _tool('tools/model_converters/convert_axial_ckpt_to_refine_head.py',
              osp.join(work, 'config.py'), rec['checkpoint_path'], src)
    args = ['tools/publish_model.py', src, ZOO_DIR, '--config',
            _config(config), '--work-dir', work, '--repo-root', REPO,
            '--collection', COLLECTION, '--weights-url-prefix', ZOO_DIR,
            '--dataset', 'CamVid 240x180',
            '--training-resources', f'1x CPU ({rec.get("cpu")})']
    if fp16:
        args.append('--fp16')
    if key != 'teacher':
        args += ['--student-name', NAMES['student'], '--student-config',
                 _config(ARMS['baseline'])]
        if baseline is not None and key != 'baseline':
            args += ['--student-baseline', str(baseline)]
    if how == 'student':
        args.append('--student-only')
    if teacher is not None and rec.get('uses_teacher'):
        args += ['--teacher-name', NAMES['teacher'], '--teacher-config',
                 teacher['Config'], '--teacher-weights', teacher['Weights']]
    _tool(*args)
    return _stem(config)


def add_metadata(name: str, rec: dict, teacher: Optional[dict]) -> None:
    """Parameters, FLOPs, training time; the teacher's test mIoU."""
    from mmengine.config import Config
    from mmseg_attnkd.analysis.complexity import segmentor_complexity
    from mmseg_attnkd.release import model_zoo
    from mmseg_attnkd.utils import build_segmentor
    data = model_zoo.load_metafile(METAFILE)
    entry = next(m for m in data['Models'] if m['Name'] == name)
    cfg = Config.fromfile(osp.join(REPO, entry['Config']))
    stats = segmentor_complexity(build_segmentor(cfg.model), (180, 240))
    meta = entry.setdefault('Metadata', {})
    meta.update(Parameters=int(stats['params']),
                FLOPs=int(stats['flops']),
                **{'Training Time': round(max(map(float, (
                    rec.get('train_seconds') or {'0': 0}).values())), 1)})
    if teacher is not None and rec.get('uses_teacher'):
        meta.setdefault('Teacher', {})['Metrics'] = dict(
            mIoU=teacher['Results'][0]['Metrics']['mIoU'])
    model_zoo.dump_metafile(data, METAFILE)


def score(name: str, data_root: str, tmp: str) -> float:
    """Test mIoU of the released file, written into its ``Results``."""
    _tool('tools/misc/zoo_results.py', name, '--checkpoint-dir',
          osp.join(tmp, 'download'), '--cfg-options',
          f'test_dataloader.dataset.data_root={data_root}')
    return float(_released_miou(name))


def release(key: str, rec: dict, data_root: str) -> dict:
    """Publish, describe and score one row (fp32 if fp16 loses > 0.01)."""
    want = rec['teacher_output_test_mIoU'] if RELEASES[key][2] == 'refine' \
        else rec['test_mIoU']
    baseline = _released_miou(_stem(ARMS['baseline']))
    teacher = _entry(_stem(ARMS['teacher']))
    attempts = []
    for fp16 in (True, False):
        with tempfile.TemporaryDirectory() as tmp:
            name = publish(key, rec, fp16, baseline, teacher, tmp)
            entry = _entry(name)
            add_metadata(name, rec, teacher)
            got = score(name, data_root, tmp)
        row = dict(name=name, arm=RELEASES[key][0], seed=rec['seed'],
                   source_sha256=rec['checkpoint_sha256'],
                   weights=entry['Weights'],
                   bytes=osp.getsize(osp.join(REPO, entry['Weights'])),
                   dtype='float16' if fp16 else 'float32',
                   released_test_mIoU=got, run_test_mIoU=round(want, 4),
                   difference=round(got - want, 4),
                   # both at the metafile's 2 decimals
                   within_tolerance=round(abs(got - round(want, 2)), 6)
                   <= TOLERANCE)
        attempts.append(dict(dtype=row['dtype'], bytes=row['bytes'],
                             released_test_mIoU=got))
        row['attempts'] = list(attempts)
        if row['within_tolerance'] or not fp16:
            return row
        os.remove(osp.join(REPO, entry['Weights']))  # again, in fp32
    return row


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
    log = json.load(open(out)) if osp.isfile(out) else dict(rows={})
    data_root = osp.join(a.work_root, 'camvid240')
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
                   checkpoint_sha256=sha256_of_file(ckpt))
        old = log['rows'].get(key)
        if old and old['source_sha256'] == rec['checkpoint_sha256'] and \
                osp.isfile(osp.join(REPO, old['weights'])):
            continue  # released from this checkpoint already
        for stale in glob.glob(osp.join(REPO, ZOO_DIR, _stem(
                _config(RELEASES[key][1])) + '_*')):
            os.remove(stale)  # an earlier release of the row
        log['rows'][key] = release(key, rec, data_root)
        common.write_json(out, log)
        done.append(log['rows'][key])
        print(f'[release] {key}: {log["rows"][key]}')
    return done


if __name__ == '__main__':
    main()
