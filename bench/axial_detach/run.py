# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial self-distillation: stop-gradient on the teacher side of the MSE?

Trains the demo's axial self-distillation config (DeepLabV3+ w16 on the
bundled CamVid sample, 240x180) with ``detach_teacher`` True and False for
each seed, then evaluates the student output (the plain student) and the
exported teacher output (``AxialRefineHead``) on the 24 validation images.

    python bench/axial_detach/run.py --iters 300 --seeds 0 1

Writes ``bench/results/axial_detach.{md,json}``. Runs are kept under
``bench/cache/axial_detach/`` and reused when finished.
"""
import argparse
import json
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, REPO)
CONFIG = osp.join(REPO, 'configs', 'demo',
                  'axial-sd_deeplabv3plus-r18-w16-d16_1xb4-300i_'
                  'camvid-mini-240x180.py')
STUDENT_CONFIG = osp.join(REPO, 'configs', 'demo',
                          'deeplabv3plus_r18-w16-d16_1xb4-300i_'
                          'camvid-mini-240x180.py')


def train(work_dir: str, detach: bool, seed: int, iters: int) -> str:
    from mmseg_attnkd.utils import schedule_options
    ckpt = osp.join(work_dir, f'iter_{iters}.pth')
    if osp.isfile(ckpt):
        return ckpt
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), CONFIG,
           '--work-dir', work_dir, '--cfg-options'] + schedule_options(
               iters, osp.join(REPO, 'demo', 'camvid_mini')) + [
               'model.distiller.mse.type=SelfDistillMSELoss',
               'model.distiller.mse.loss_weight=1.0',
               'model.distiller.mse.target=prob',
               f'model.distiller.mse.detach_teacher={detach}',
               f'randomness.seed={seed}']
    if osp.isfile(osp.join(work_dir, 'last_checkpoint')):
        cmd.insert(4, '--resume')
    subprocess.run(cmd, check=True, cwd=REPO)
    return ckpt


def test_miou(config: str, ckpt: str, work_dir: str) -> float:
    from mmengine.config import Config
    from mmengine.runner import Runner
    cfg = Config.fromfile(config)
    cfg.load_from = ckpt
    cfg.work_dir = work_dir
    return float(Runner.from_cfg(cfg).test()['mIoU'])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--iters', type=int, default=300)
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1])
    parser.add_argument('--work-root',
                        default=osp.join(REPO, 'bench', 'cache',
                                         'axial_detach'))
    args = parser.parse_args()
    import mmseg_attnkd  # noqa: F401
    from mmseg_attnkd.utils import (build_segmentor,
                                    convert_kd_checkpoint_to_student,
                                    export_axial_refine,
                                    get_student_model_cfg, load_config)
    from bench.axial_detach.report import report
    from bench.lib.common import machine_info, machine_line

    rows = []
    for detach in (True, False):
        for seed in args.seeds:
            wd = osp.join(args.work_root, f'detach{int(detach)}_seed{seed}')
            start = time.time()
            ckpt = train(wd, detach, seed, args.iters)
            student = osp.join(wd, 'student.pth')
            convert_kd_checkpoint_to_student(
                ckpt, student,
                build_segmentor(get_student_model_cfg(load_config(CONFIG))))
            t_ckpt, t_cfg = export_axial_refine(
                CONFIG, ckpt, osp.join(wd, 'teacher_output.pth'))
            rows.append(dict(
                detach_teacher=detach, seed=seed,
                student=test_miou(STUDENT_CONFIG, student,
                                  osp.join(wd, 'test_s')),
                teacher_output=test_miou(t_cfg, t_ckpt,
                                         osp.join(wd, 'test_t')),
                seconds=round(time.time() - start, 1)))
    text = report(rows, args.iters, machine_line(machine_info()))
    out = osp.join(REPO, 'bench', 'results', 'axial_detach')
    with open(out + '.md', 'w') as f:
        f.write(text)
    with open(out + '.json', 'w') as f:
        json.dump(dict(iters=args.iters, rows=rows), f, indent=1)
    print(text)


if __name__ == '__main__':
    main()
