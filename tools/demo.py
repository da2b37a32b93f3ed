# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""`make demo`: the workflow on the bundled CamVid sample, on a CPU.

The teacher is not trained here: it is the committed
``demo/checkpoints/camvid240_deeplabv3plus-r18-w32-d8_teacher.pth``
(DeepLabV3+ w32, output stride 8, trained on the full CamVid train split by
the CamVid CPU protocol, see demo/checkpoints/README.md). For every seed the
demo trains three students, each a real ``tools/train.py`` run with
MMEngine's logger and ETA, all from the same initial weights of that seed:

1. ``baseline``  the w16 student trained alone
2. ``attnfd``    the w16 student distilled from the teacher with AttnFD
                 (the package's defaults)
3. ``axial_sd``  the w16 student with axial self-distillation

A finished run is reused on the next call, an interrupted one resumes. Then
every model is exported the way a user would ship it (the distilled students
as plain MMSeg checkpoints, the axial teacher output as an
``AxialRefineHead`` model), evaluated on the 24 validation images with
``Runner.test``, measured (parameters, FLOPs, images/s), and compared in
one table with the per-seed values, the paired difference to the baseline
and whether it is outside seed noise. Attention maps and predictions of the
first seed are written as PNGs. All numbers are computed in this run.

Everything lands under ``work_dirs/demo/``.
"""
import argparse
import hashlib
import json
import os
import os.path as osp
import shutil
import statistics
import subprocess
import sys
import time
from typing import Dict, List, Optional

from mmseg_attnkd.utils.config.options import (data_root_options,
                                               schedule_options)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
DEMO_CFG = osp.join(REPO, 'configs', 'demo')
CONFIGS = dict(
    teacher='deeplabv3plus_r18-w32-d8_camvid-240x180_demo-teacher.py',
    baseline='deeplabv3plus_r18-w16-d16_1xb4-300i_camvid-mini-240x180.py',
    attnfd='attnfd_deeplabv3plus-r18-w32-d8_deeplabv3plus-r18-w16-d16_'
    '1xb4-300i_camvid-mini-240x180.py',
    axial_sd='axial-sd_deeplabv3plus-r18-w16-d16_1xb4-300i_'
    'camvid-mini-240x180.py',
)
STAGES = ('baseline', 'attnfd', 'axial_sd')
TEACHER_CKPT = osp.join(
    'demo', 'checkpoints', 'camvid240_deeplabv3plus-r18-w32-d8_teacher.pth')
TEACHER_COMMAND = ('python bench/accuracy/run.py --protocol cpu --data-root '
                   '<CamVid SegNet folder>')
#: The teacher attention fitted on TEACHER_CKPT (AttnFD's default mode).
TEACHER_ATTENTION = osp.join(
    'demo', 'checkpoints',
    'camvid240_deeplabv3plus-r18-w32-d8_teacher_attention.pth')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--work-dir', default=osp.join('work_dirs', 'demo'))
    parser.add_argument('--data-root', default=osp.join('demo', 'camvid_mini'),
                        help='CamVid in MMSeg layout (240x180)')
    parser.add_argument('--teacher-checkpoint', default=TEACHER_CKPT,
                        help='weights of the w32-d8 teacher')
    parser.add_argument('--teacher-attention', default=TEACHER_ATTENTION,
                        help='AttnFD teacher attention: a file fitted on the '
                        'teacher (tools/fit_teacher_attention.py), or '
                        "'parameter_free' / 'random'")
    parser.add_argument('--iters', type=int, default=300,
                        help='training iterations of every student')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1],
                        help='seeds; each trains every student once')
    parser.add_argument('--fresh', action='store_true',
                        help='retrain every student instead of reusing them')
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


def initial_weights(seed: int, args) -> str:
    """The student's initial weights for ``seed``, shared by its stages.

    Built once per seed and loaded by every stage through the student's
    ``init_cfg``, so the teacher and the connectors built before the student
    in a distillation model cannot shift its random draws.
    """
    import torch
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS

    from mmseg_attnkd.utils import get_student_model_cfg, load_config
    from mmseg_attnkd.utils.checkpoint import save_checkpoint_atomic
    path = osp.join(args.work_dir, 'init', f'student_seed{seed}.pth')
    if osp.isfile(path):
        return path
    cfg = dict(get_student_model_cfg(load_config(
        osp.join(DEMO_CFG, CONFIGS['baseline']))))
    cfg.pop('_scope_', None)
    torch.manual_seed(seed)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(cfg)
    model.init_weights()
    os.makedirs(osp.dirname(path), exist_ok=True)
    save_checkpoint_atomic(dict(meta=dict(seed=seed),
                                state_dict=model.state_dict()), path)
    return path


def seed_config_path(name: str, seed: int, args) -> str:
    return osp.join(args.work_dir, 'configs', f'{name}_seed{seed}.py')


def seed_config(name: str, seed: int, init: str, args) -> str:
    """A config inheriting the demo config of ``name`` for ``seed``."""
    student = f"dict(init_cfg=dict(type='Pretrained', checkpoint={init!r}))"
    if name == 'baseline':
        model = student
    elif name == 'attnfd':
        attention = args.teacher_attention
        distiller = (f'dict(teacher_attention={attention!r}, '
                     'teacher_attention_ckpt=None)'
                     if attention in ('parameter_free', 'random') else
                     f'dict(teacher_attention_ckpt={attention!r})')
        model = (f'dict(architecture={student}, '
                 f'teacher_ckpt={args.teacher_checkpoint!r}, '
                 f'distiller={distiller})')
    else:
        model = f'dict(architecture={student})'
    path = seed_config_path(name, seed, args)
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(f"_base_ = {osp.join(DEMO_CFG, CONFIGS[name])!r}\n"
                f'model = {model}\n'
                f'randomness = dict(seed={seed})\n')
    return path


def stage_digest(config: str, options: List[str]) -> str:
    """Digest of a stage's resolved config (inherited demo config, teacher,
    attention, schedule), so a stage is reused only under its settings."""
    from mmengine.config import Config
    text = Config.fromfile(config).pretty_text + '\n'.join(options)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def stage_action(work_dir: str, final: str, digest: str, fresh: bool) -> str:
    """``'reuse'`` a finished stage, ``'resume'`` an interrupted one, or
    ``'train'`` from the start (fresh, new, or made under other settings)."""
    if fresh:
        return 'train'
    for marker, action in (('DONE.json', 'reuse'), ('STARTED.json', 'resume')):
        path = osp.join(work_dir, marker)
        if osp.isfile(path):
            with open(path) as f:
                same = json.load(f).get('digest') == digest
            if not same:
                return 'train'
            if action == 'reuse' and osp.isfile(final):
                return action
            if action == 'resume' and osp.isfile(
                    osp.join(work_dir, 'last_checkpoint')):
                return action
    return 'train'


def run_stage(name: str, seed: int, args) -> str:
    """Train one student stage unless it finished before under the same
    settings; its checkpoint."""
    work_dir = osp.join(args.work_dir, name, f'seed{seed}')
    final = stage_checkpoint(work_dir, args.iters)
    config = seed_config(name, seed, initial_weights(seed, args), args)
    options = schedule_options(args.iters, args.data_root)
    digest = stage_digest(config, options)
    action = stage_action(work_dir, final, digest, args.fresh)
    if action == 'reuse':
        log(f'{name} seed {seed}: reusing {final}')
        return final
    cmd = [sys.executable, osp.join(REPO, 'tools', 'train.py'), config,
           '--work-dir', work_dir]
    if action == 'resume':
        cmd.append('--resume')
        log(f'{name} seed {seed}: resuming the interrupted run')
    elif osp.isdir(work_dir):
        # made under other settings (or --fresh): start again, keep nothing
        shutil.rmtree(work_dir)
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, 'STARTED.json'), 'w') as f:
        json.dump(dict(digest=digest), f)
    cmd += ['--cfg-options'] + options
    log(f'{name} seed {seed}: training {args.iters} iterations '
        f'({CONFIGS[name]})')
    start = time.time()
    subprocess.run(cmd, check=True, cwd=REPO)
    if not osp.isfile(final):
        raise RuntimeError(f'{name} seed {seed} finished without {final}')
    with open(osp.join(work_dir, 'DONE.json'), 'w') as f:
        json.dump(dict(iters=args.iters, seed=seed, digest=digest,
                       seconds=time.time() - start), f)
    return final


# --------------------------------------------------------------------------
# export, evaluation, measurements
# --------------------------------------------------------------------------
def export_students(ckpts: Dict[str, str], seed: int,
                    args) -> Dict[str, dict]:
    """Plain MMSeg models of one seed: name -> dict(config, checkpoint)."""
    from mmseg_attnkd.utils import (build_segmentor,
                                    convert_kd_checkpoint_to_student,
                                    export_axial_refine,
                                    get_student_model_cfg, load_config)
    export_dir = osp.join(args.work_dir, 'export', f'seed{seed}')
    os.makedirs(export_dir, exist_ok=True)
    student_cfg = osp.join(DEMO_CFG, CONFIGS['baseline'])
    models = {'baseline student': dict(config=student_cfg,
                                       checkpoint=ckpts['baseline'])}
    for stage, label in (('attnfd', 'AttnFD student'),
                         ('axial_sd', 'axial-SD student output')):
        dst = osp.join(export_dir, f'{stage}_student.pth')
        student = build_segmentor(get_student_model_cfg(
            load_config(osp.join(DEMO_CFG, CONFIGS[stage]))))
        report = convert_kd_checkpoint_to_student(ckpts[stage], dst, student)
        log(f'seed {seed}: exported {label} as a plain MMSeg checkpoint: '
            f'{dst} ({report.summary()})')
        models[label] = dict(config=student_cfg, checkpoint=dst)
    ckpt, cfg = export_axial_refine(
        osp.join(DEMO_CFG, CONFIGS['axial_sd']), ckpts['axial_sd'],
        osp.join(export_dir, 'axial_sd_teacher_output.pth'))
    log(f'seed {seed}: exported axial-SD teacher output (AxialRefineHead): '
        f'{ckpt}')
    models['axial-SD teacher output'] = dict(config=cfg, checkpoint=ckpt)
    return models


def evaluate(name: str, spec: dict, args, seed: Optional[int] = None,
             measure: bool = True) -> dict:
    """mIoU with Runner.test; with ``measure`` also params/FLOPs and
    images/s with inference_model."""
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
    run = name.replace(' ', '_').replace('-', '')
    cfg.work_dir = osp.join(args.work_dir, 'eval', run if seed is None else
                            f'{run}_seed{seed}')
    cfg.default_hooks.logger.interval = 1000
    adapt_cfg_to_environment(cfg)
    metrics = Runner.from_cfg(cfg).test()
    row = dict(model=name, seed=seed, mIoU=float(metrics['mIoU']))
    if not measure:
        return row
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
    return dict(row, params=stats['params'], flops=stats['flops'],
                params_str=stats['params_str'], flops_str=stats['flops_str'],
                fps=fps)


def visualise(ckpts: Dict[str, str], seed: int, args) -> List[str]:
    """Figures of seed ``seed``'s students, each built from the config it
    was trained with (its teacher attention included)."""
    out_dir = osp.join(args.work_dir, 'vis')
    tool = osp.join(REPO, 'tools', 'analysis', 'visualize_attention.py')
    # the figures show samples of the data the demo trained on
    common = ['--out-dir', out_dir, '--split', 'val', '--num',
              str(args.num_vis), '--cfg-options'] + data_root_options(
                  args.data_root)
    subprocess.run(
        [sys.executable, tool, 'attnfd',
         seed_config_path('attnfd', seed, args), ckpts['attnfd'],
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


def noise_verdict(diffs: List[float], baseline: List[float],
                  values: List[float]) -> str:
    """Whether paired differences to the baseline stand out of seed noise.

    The seed noise is the larger seed-to-seed spread (max - min) of the
    baseline and of the model itself; a difference is outside it only when
    every seed moves the same way and the mean exceeds that spread.
    """
    if len(diffs) < 2:
        return 'one seed: no noise estimate'
    spread = max(max(baseline) - min(baseline), max(values) - min(values))
    mean = statistics.mean(diffs)
    same_sign = all(d > 0 for d in diffs) or all(d < 0 for d in diffs)
    if same_sign and abs(mean) > spread:
        return f'outside (seed spread {spread:.2f})'
    return f'within (seed spread {spread:.2f})'


def summarise(rows: List[dict]) -> List[dict]:
    """One entry per model: per-seed mIoU, mean, paired delta, verdict."""
    by_model: Dict[str, dict] = {}
    for r in rows:
        entry = by_model.setdefault(r['model'], dict(model=r['model'],
                                                     per_seed={}))
        entry['per_seed'][r['seed']] = r['mIoU']
        for key in ('params_str', 'flops_str', 'fps'):
            if key in r:
                entry[key] = r[key]
    base = by_model['baseline student']['per_seed']
    for entry in by_model.values():
        values = entry['per_seed']
        entry['mIoU'] = statistics.mean(values.values())
        if None in values:  # the teacher: trained once, not per seed
            entry['delta'] = entry['mIoU'] - statistics.mean(base.values())
            entry['noise'] = '-'
            continue
        diffs = [values[k] - base[k] for k in sorted(values)]
        entry['delta'] = statistics.mean(diffs)
        entry['noise'] = ('-' if entry['model'] == 'baseline student' else
                          noise_verdict(diffs, list(base.values()),
                                        list(values.values())))
    return list(by_model.values())


def format_table(summary: List[dict]) -> str:
    lines = [
        '| model | val mIoU (mean) | per seed | vs baseline (paired) | '
        'outside seed noise? | params | FLOPs (240x180) | images/s |',
        '|---|---:|---|---:|---|---:|---:|---:|',
    ]
    for r in summary:
        per_seed = ' / '.join(f'{v:.2f}' for _, v in sorted(
            r['per_seed'].items(), key=lambda kv: -1 if kv[0] is None
            else kv[0]))
        lines.append(
            f"| {r['model']} | {r['mIoU']:.2f} | {per_seed} | "
            f"{r['delta']:+.2f} | {r['noise']} | {r['params_str']} | "
            f"{r['flops_str']} | {r['fps']:.1f} |")
    return '\n'.join(lines)


def check_teacher_attention(args) -> None:
    """The committed fitted attention belongs to the committed teacher."""
    if args.teacher_attention in ('parameter_free', 'random'):
        return
    committed = osp.join(REPO, TEACHER_ATTENTION)
    args.teacher_attention = osp.abspath(
        committed if args.teacher_attention == TEACHER_ATTENTION else
        args.teacher_attention)
    if args.teacher_attention == committed and \
            args.teacher_checkpoint != osp.join(REPO, TEACHER_CKPT):
        raise SystemExit(
            f'--teacher-checkpoint {args.teacher_checkpoint}: the committed '
            'teacher attention was fitted on the committed teacher; fit one '
            'on yours (python tools/fit_teacher_attention.py CONFIG --out '
            'FILE) and pass --teacher-attention FILE, or pass '
            '--teacher-attention parameter_free.')
    if not osp.isfile(args.teacher_attention):
        raise SystemExit(
            f'--teacher-attention {args.teacher_attention} does not exist; '
            'pass a file written by tools/fit_teacher_attention.py, or '
            'parameter_free.')


def main(argv=None) -> None:
    args = parse_args(argv)
    args.work_dir = osp.abspath(args.work_dir)
    args.data_root = osp.abspath(args.data_root)
    args.teacher_checkpoint = osp.abspath(
        osp.join(REPO, TEACHER_CKPT) if args.teacher_checkpoint ==
        TEACHER_CKPT else args.teacher_checkpoint)
    if not osp.isdir(osp.join(args.data_root, 'img_dir', 'train')):
        raise SystemExit(
            f'demo data not found under {args.data_root}/img_dir/train: the '
            'bundled sample lives in demo/camvid_mini; run from the repo '
            'root or pass --data-root.')
    if not osp.isfile(args.teacher_checkpoint):
        raise SystemExit(
            f'demo teacher not found: {args.teacher_checkpoint}; it is '
            'committed with the repository (git lfs/checkout problem?) or '
            f'made by `{TEACHER_COMMAND}` (its teacher_plain.pth); or pass '
            '--teacher-checkpoint.')
    check_teacher_attention(args)
    import mmseg_attnkd  # noqa: F401
    start = time.time()
    seeds = list(dict.fromkeys(args.seeds))
    per_seed = {seed: {name: run_stage(name, seed, args) for name in STAGES}
                for seed in seeds}
    teacher = dict(config=osp.join(DEMO_CFG, CONFIGS['teacher']),
                   checkpoint=args.teacher_checkpoint)
    rows = [evaluate('teacher', teacher, args)]
    for i, seed in enumerate(seeds):
        models = export_students(per_seed[seed], seed, args)
        rows += [evaluate(name, spec, args, seed=seed, measure=i == 0)
                 for name, spec in models.items()]
    pngs = visualise(per_seed[seeds[0]], seeds[0], args)
    summary = summarise(rows)
    table = format_table(summary)
    note = (f'CamVid sample ({_display_path(args.data_root)}), students '
            f'{args.iters} iterations each, {len(seeds)} seed(s) '
            f'({", ".join(map(str, seeds))}; every student of a seed starts '
            'from the same weights), CPU. The teacher was trained on the '
            'full CamVid train split and is evaluated once. "Outside seed '
            'noise": every seed moves the same way and the mean paired '
            'difference exceeds the larger seed-to-seed spread (max - min) '
            'of the baseline and of that model.')
    results = osp.join(args.work_dir, 'results.md')
    with open(results, 'w') as f:
        f.write('# mmseg-attnkd demo results\n\n' + note + '\n\n' + table +
                '\n')
    with open(osp.join(args.work_dir, 'results.json'), 'w') as f:
        json.dump(dict(rows=rows, summary=summary, iters=args.iters,
                       seeds=seeds), f, indent=2,
                  default=str)
    print('\n' + note + '\n\n' + table + '\n')
    log(f'exported students and the teacher-output model: '
        f'{osp.join(args.work_dir, "export")}')
    log(f'{len(pngs)} images in {osp.join(args.work_dir, "vis")}, e.g. '
        f'{pngs[0] if pngs else "-"}')
    log(f'table saved to {results}; total {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
