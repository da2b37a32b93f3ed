# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""`make demo`: the whole workflow on the bundled CamVid sample, on a CPU.

Stages (each a real ``tools/train.py`` run with MMEngine's logger and ETA;
a finished stage is reused on the next run, an interrupted one resumes):

1. ``teacher``   DeepLabV3+ w32 (configs/demo/deeplabv3plus_r18-w32-...)
2. ``baseline``  the w16 student trained alone
3. ``attnfd``    the w16 student distilled from the teacher with AttnFD
4. ``axial_sd``  the w16 student with axial self-distillation

Then every model is exported the way a user would ship it (the distilled
students as plain MMSeg checkpoints, the axial teacher output as an
``AxialRefineHead`` model), evaluated on the 24 validation images with
``Runner.test``, measured (parameters, FLOPs, images/s), and compared in
one table. Attention maps and predictions are written as PNGs. All numbers
are computed in this run; nothing is read from a results file.

Everything lands under ``work_dirs/demo/``.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CFG = osp.join(REPO, 'configs', 'demo')
CONFIGS = dict(
    teacher='deeplabv3plus_r18-w32-d16_1xb4-300i_camvid-mini-240x180.py',
    baseline='deeplabv3plus_r18-w16-d16_1xb4-300i_camvid-mini-240x180.py',
    attnfd='attnfd_deeplabv3plus-r18-w32-d16_deeplabv3plus-r18-w16-d16_'
    '1xb4-300i_camvid-mini-240x180.py',
    axial_sd='axial-sd_deeplabv3plus-r18-w16-d16_1xb4-300i_'
    'camvid-mini-240x180.py',
)
STAGES = ('teacher', 'baseline', 'attnfd', 'axial_sd')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'demo'))
    parser.add_argument('--data-root', default=osp.join('demo', 'camvid_mini'),
                        help='CamVid in MMSeg layout (240x180)')
    parser.add_argument('--iters', type=int, default=300,
                        help='training iterations of every stage')
    parser.add_argument('--fresh', action='store_true',
                        help='retrain every stage instead of reusing them')
    parser.add_argument('--num-vis', type=int, default=2,
                        help='validation images to visualise')
    return parser.parse_args(argv)


def log(msg: str) -> None:
    print(f'[demo] {msg}', flush=True)


# --------------------------------------------------------------------------
# training stages
# --------------------------------------------------------------------------
def stage_checkpoint(work_dir: str, iters: int) -> str:
    return osp.join(work_dir, f'iter_{iters}.pth')


def data_root_options(data_root: str) -> List[str]:
    """--cfg-options that point every dataloader at ``data_root``."""
    return [
        f'{loader}.dataset.data_root={data_root}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]


def schedule_options(iters: int, data_root: str) -> List[str]:
    """--cfg-options that set the schedule length and the data location."""
    warmup = max(min(20, iters // 5), 1)
    return [
        f'train_cfg.max_iters={iters}',
        f'train_cfg.val_interval={iters}',
        f'param_scheduler.0.end={warmup}',
        f'param_scheduler.1.begin={warmup}',
        f'param_scheduler.1.end={iters}',
        f'default_hooks.checkpoint.interval={max(iters // 3, 1)}',
    ] + data_root_options(data_root)


def run_stage(name: str, args, extra: Optional[List[str]] = None) -> str:
    """Train one stage unless its final checkpoint exists; return it."""
    work_dir = osp.join(args.work_dir, name)
    final = stage_checkpoint(work_dir, args.iters)
    done_marker = osp.join(work_dir, 'DONE.json')
    if not args.fresh and osp.isfile(final) and osp.isfile(done_marker):
        log(f'stage {name}: reusing {final}')
        return final
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'),
           osp.join(DEMO_CFG, CONFIGS[name]), '--work-dir', work_dir]
    has_ckpt = osp.isfile(osp.join(work_dir, 'last_checkpoint'))
    if has_ckpt and not args.fresh:
        cmd.append('--resume')
        log(f'stage {name}: resuming the interrupted run in {work_dir}')
    cmd += ['--cfg-options'] + schedule_options(args.iters, args.data_root)
    cmd += extra or []
    log(f'stage {name}: training {args.iters} iterations '
        f'({CONFIGS[name]})')
    start = time.time()
    subprocess.run(cmd, check=True, cwd=REPO)
    if not osp.isfile(final):
        raise RuntimeError(f'stage {name} finished without {final}')
    with open(done_marker, 'w') as f:
        json.dump(dict(iters=args.iters, seconds=time.time() - start), f)
    return final


# --------------------------------------------------------------------------
# export, evaluation, measurements
# --------------------------------------------------------------------------
def export_students(ckpts: Dict[str, str], args) -> Dict[str, dict]:
    """Plain MMSeg models to evaluate: name -> dict(config, checkpoint)."""
    from mmseg_attnkd.utils import (build_segmentor,
                                    convert_kd_checkpoint_to_student,
                                    export_axial_refine,
                                    get_student_model_cfg, load_config)
    export_dir = osp.join(args.work_dir, 'export')
    os.makedirs(export_dir, exist_ok=True)
    student_cfg = osp.join(DEMO_CFG, CONFIGS['baseline'])
    models = {
        'teacher': dict(config=osp.join(DEMO_CFG, CONFIGS['teacher']),
                        checkpoint=ckpts['teacher']),
        'baseline student': dict(config=student_cfg,
                                 checkpoint=ckpts['baseline']),
    }
    for stage, label in (('attnfd', 'AttnFD student'),
                         ('axial_sd', 'axial-SD student output')):
        dst = osp.join(export_dir, f'{stage}_student.pth')
        student = build_segmentor(get_student_model_cfg(
            load_config(osp.join(DEMO_CFG, CONFIGS[stage]))))
        report = convert_kd_checkpoint_to_student(ckpts[stage], dst, student)
        log(f'exported {label} as a plain MMSeg checkpoint: {dst} '
            f'({report.summary()})')
        models[label] = dict(config=student_cfg, checkpoint=dst)
    ckpt, cfg = export_axial_refine(
        osp.join(DEMO_CFG, CONFIGS['axial_sd']), ckpts['axial_sd'],
        osp.join(export_dir, 'axial_sd_teacher_output.pth'))
    log(f'exported axial-SD teacher output (AxialRefineHead): {ckpt}')
    models['axial-SD teacher output'] = dict(config=cfg, checkpoint=ckpt)
    return models


def evaluate(name: str, spec: dict, args) -> dict:
    """mIoU with Runner.test; params/FLOPs; images/s with inference_model."""
    import torch
    from mmengine.config import Config
    from mmengine.runner import Runner
    from mmseg.apis import inference_model, init_model

    from mmseg_attnkd.analysis import segmentor_complexity
    from mmseg_attnkd.utils import adapt_cfg_to_environment

    cfg = Config.fromfile(spec['config'])
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if key in cfg:
            cfg[key].dataset.data_root = args.data_root
    cfg.load_from = spec['checkpoint']
    cfg.work_dir = osp.join(args.work_dir, 'eval',
                            name.replace(' ', '_').replace('-', ''))
    cfg.default_hooks.logger.interval = 1000
    adapt_cfg_to_environment(cfg)
    metrics = Runner.from_cfg(cfg).test()

    model = init_model(cfg, spec['checkpoint'], device='cpu')
    stats = segmentor_complexity(model, input_shape=(180, 240))
    val_dir = osp.join(args.data_root, 'img_dir', 'val')
    images = sorted(osp.join(val_dir, f) for f in os.listdir(val_dir))
    with torch.no_grad():
        inference_model(model, images[0])  # warm-up
        start = time.perf_counter()
        for img in images:
            inference_model(model, img)
        fps = len(images) / (time.perf_counter() - start)
    return dict(model=name, mIoU=float(metrics['mIoU']),
                params=stats['params'], flops=stats['flops'],
                params_str=stats['params_str'], flops_str=stats['flops_str'],
                fps=fps)


def visualise(ckpts: Dict[str, str], args) -> List[str]:
    out_dir = osp.join(args.work_dir, 'vis')
    tool = osp.join(REPO, 'tools', 'analysis', 'visualize_attention.py')
    # the figures show samples of the data the demo trained on
    common = ['--out-dir', out_dir, '--split', 'val', '--num',
              str(args.num_vis), '--cfg-options'] + data_root_options(
                  args.data_root)
    subprocess.run(
        [sys.executable, tool, 'attnfd',
         osp.join(DEMO_CFG, CONFIGS['attnfd']), ckpts['attnfd'],
         '--baseline-config', osp.join(DEMO_CFG, CONFIGS['baseline']),
         '--baseline-checkpoint', ckpts['baseline']] + common,
        check=True, cwd=REPO)
    subprocess.run(
        [sys.executable, tool, 'axial',
         osp.join(DEMO_CFG, CONFIGS['axial_sd']), ckpts['axial_sd']] +
        common, check=True, cwd=REPO)
    return sorted(
        osp.join(out_dir, f) for f in os.listdir(out_dir)
        if f.endswith('.png'))


def _display_path(path: str) -> str:
    """``path`` relative to the repository when it lies inside it."""
    rel = osp.relpath(path, REPO)
    return path if rel.startswith('..') else rel


def format_table(rows: List[dict]) -> str:
    base = next(r for r in rows if r['model'] == 'baseline student')
    lines = [
        '| model | val mIoU | vs baseline | params | FLOPs (240x180) | '
        'images/s |',
        '|---|---:|---:|---:|---:|---:|',
    ]
    for r in rows:
        delta = r['mIoU'] - base['mIoU']
        lines.append(
            f"| {r['model']} | {r['mIoU']:.2f} | {delta:+.2f} | "
            f"{r['params_str']} | {r['flops_str']} | {r['fps']:.1f} |")
    return '\n'.join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    args.work_dir = osp.abspath(args.work_dir)
    args.data_root = osp.abspath(args.data_root)
    if not osp.isdir(osp.join(args.data_root, 'img_dir', 'train')):
        raise FileNotFoundError(
            f'demo data not found under {args.data_root}/img_dir/train: the '
            'bundled sample lives in demo/camvid_mini; run from the repo '
            'root or pass --data-root.')
    import mmseg_attnkd  # noqa: F401
    start = time.time()
    ckpts = {}
    ckpts['teacher'] = run_stage('teacher', args)
    ckpts['baseline'] = run_stage('baseline', args)
    ckpts['attnfd'] = run_stage(
        'attnfd', args, [f'model.teacher_ckpt={ckpts["teacher"]}'])
    ckpts['axial_sd'] = run_stage('axial_sd', args)

    models = export_students(ckpts, args)
    rows = [evaluate(name, spec, args) for name, spec in models.items()]
    pngs = visualise(ckpts, args)
    table = format_table(rows)
    summary = osp.join(args.work_dir, 'results.md')
    with open(summary, 'w') as f:
        f.write('# mmseg-attnkd demo results\n\n'
                f'CamVid sample ({_display_path(args.data_root)}), '
                f'{args.iters} iterations per stage, CPU.\n\n' + table + '\n')
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(rows, f, indent=2)
    print('\n' + table + '\n')
    log(f'exported students and the teacher-output model: '
        f'{osp.join(args.work_dir, "export")}')
    log(f'{len(pngs)} images in {osp.join(args.work_dir, "vis")}, e.g. '
        f'{pngs[0] if pngs else "-"}')
    log(f'table saved to {summary}; total {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
