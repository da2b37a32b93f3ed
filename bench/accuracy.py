# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Accuracy of every distillation arm on CamVid (11 classes, void ignored).

Everything trains from scratch: no pretrained weights are available offline,
so absolute mIoU is far below published (ImageNet-initialised) numbers; only
the comparison between arms under the same budget is meaningful.

Protocols:

* ``cpu``: 240x180 (data converted with ``--scale 0.5``), batch 2, teacher
  DeepLabV3+ R50-d8, student DeepLabV3+ R18-d8;
* ``gpu``: 480x360 (full resolution), batch 8, teacher DeepLabV3+ R101-d8,
  student R18-d8, longer schedule, one GPU.

Arms (same data, augmentation, schedule, seeds; published hyper-parameters):

* ``baseline``: the student alone;
* ``kd``: MMRazor ``KLDivergence`` on conv_seg logits (tau 1, weight 1);
* ``cwd``: MMRazor ``ChannelWiseDivergence`` (tau 1, weight 5, as MMRazor's
  CWD config);
* ``attnfd_<frozen|pfree>_<channel|tensor>``: AttnFD (lambda 2, stages
  'auto') with each teacher-attention mode and normalisation;
* ``axial_sd``: axial self-distillation; gives two results, the student
  output (``axial_sd``) and the exported teacher output
  (``axial_sd_teacher``, evaluated on the final checkpoint);
* ``attnfd_axial_sd``: AttnFD (frozen, channel, lambda 2) and axial
  self-distillation together (``AttnFDAxialDistiller``); student output and
  exported self-teacher output (``attnfd_axial_sd_teacher``).

The teacher is trained once per protocol (seed 0) and cached. Every
(arm, seed) is a work dir under ``--work-root``; finished runs (with a
``result.json``) are skipped, interrupted ones resume from their last
checkpoint. Outputs: per-run ``result.json``, ``bench/results/
accuracy_<protocol>.{md,json,png}`` (table: final/best val mIoU mean +- std
over seeds, seconds per iteration; plot: val mIoU against iteration).

Example::

    python bench/accuracy.py --iters 20 --teacher-iters 20 --seeds 0 \
        --arms baseline attnfd_frozen_channel
    nohup python bench/accuracy.py --iters 4000 --seeds 0 1 2 &   # resumable
    python bench/accuracy.py --protocol gpu                       # one GPU
"""
import argparse
import copy
import glob
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time

if __package__ in (None, ''):
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from bench import common  # noqa: E402

NUM_CLASSES = 11
ATTNFD_ARMS = {
    f'attnfd_{ta}_{norm}': (mode, norm)
    for ta, mode in (('frozen', 'frozen'), ('pfree', 'parameter_free'))
    for norm in ('channel', 'tensor')
}
ARMS = ('baseline', 'kd', 'cwd', *ATTNFD_ARMS, 'axial_sd',
        'attnfd_axial_sd')
#: Arms whose checkpoint also holds an axial self-teacher output.
AXIAL_ARMS = ('axial_sd', 'attnfd_axial_sd')
PROTOCOLS = dict(
    cpu=dict(base='camvid-240x180.py', scale=0.5, crop=(180, 240), batch=2,
             teacher_depth=50, iters=2000, teacher_iters=4000,
             val_interval=200, workers=1),
    gpu=dict(base='camvid.py', scale=1.0, crop=(360, 480), batch=8,
             teacher_depth=101, iters=40000, teacher_iters=40000,
             val_interval=4000, workers=4))


def prepare_data(args) -> str:
    """Convert CamVid once into ``bench/cache/camvid-<scale>``."""
    proto = PROTOCOLS[args.protocol]
    out = osp.join(common.BENCH_DIR, 'cache', f'camvid-scale{proto["scale"]}')
    done = osp.join(out, '.complete')
    if not osp.isfile(done):
        if not osp.isdir(args.data_root):
            raise FileNotFoundError(
                f'--data-root {args.data_root} does not exist; pass the '
                'SegNet CamVid folder (train/, trainannot/, val/, valannot/).')
        subprocess.run([
            sys.executable,
            osp.join(common.REPO_ROOT, 'tools', 'dataset_converters',
                     'camvid.py'), '--data-root', args.data_root,
            '--out-dir', out, '--splits', 'train', 'val', '--scale',
            str(proto['scale'])
        ], check=True, cwd=common.REPO_ROOT)
        common.write_text(done, 'ok')
    return out


def _train_cfg(model: dict, args, data_root: str, work_dir: str, seed: int,
               iters: int) -> dict:
    from mmengine.config import Config
    proto = PROTOCOLS[args.protocol]
    base = Config.fromfile(
        osp.join(common.REPO_ROOT, 'configs', '_base_', 'datasets',
                 proto['base'])).to_dict()
    cfg = copy.deepcopy(base)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader['dataset']['data_root'] = data_root
        loader['num_workers'] = proto['workers']
        loader['persistent_workers'] = proto['workers'] > 0
    cfg['train_dataloader']['batch_size'] = proto['batch']
    if args.val_images:
        # MMEngine's BaseDataset keeps the first N images (smoke runs only)
        for key in ('val_dataloader', 'test_dataloader'):
            cfg[key]['dataset']['indices'] = args.val_images
    val_interval = min(args.val_interval or proto['val_interval'], iters)
    cfg.update(
        custom_imports=dict(imports=['mmseg_attnkd'],
                            allow_failed_imports=False),
        default_scope='mmseg',
        model=model,
        work_dir=work_dir,
        randomness=dict(seed=seed),
        env_cfg=dict(cudnn_benchmark=False,
                     mp_cfg=dict(mp_start_method='fork',
                                 opencv_num_threads=0),
                     dist_cfg=dict(backend='nccl')),
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=0.01, momentum=0.9,
                           weight_decay=5e-4)),
        param_scheduler=[
            dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=iters,
                 by_epoch=False)
        ],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=iters,
                       val_interval=val_interval),
        val_cfg=dict(type='ValLoop'),
        test_cfg=dict(type='TestLoop'),
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=min(10, iters),
                        log_metric_by_epoch=False),
            param_scheduler=dict(type='ParamSchedulerHook'),
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=val_interval, max_keep_ckpts=1),
            sampler_seed=dict(type='DistSamplerSeedHook')),
        vis_backends=[dict(type='LocalVisBackend')],
        visualizer=dict(type='SegLocalVisualizer',
                        vis_backends=[dict(type='LocalVisBackend')],
                        name='visualizer'),
        log_processor=dict(by_epoch=False),
        log_level='INFO',
        load_from=None,
        resume=False)
    if model.get('type') == 'SegSingleTeacherDistill':
        cfg['find_unused_parameters'] = True
    return cfg


def arm_model(arm: str, args, teacher_ckpt: str) -> dict:
    proto = PROTOCOLS[args.protocol]
    student = common.deeplabv3plus_cfg(common.STUDENT_DEPTH, NUM_CLASSES,
                                       proto['crop'])
    teacher = common.deeplabv3plus_cfg(proto['teacher_depth'], NUM_CLASSES,
                                       proto['crop'])
    if arm == 'baseline':
        return student
    if arm == 'teacher':
        return teacher
    if arm == 'axial_sd':
        return common.axial_sd_cfg(student)
    if arm == 'kd':
        distiller = common.kd_distiller(NUM_CLASSES)
    elif arm == 'cwd':
        distiller = common.cwd_distiller()
    elif arm in ATTNFD_ARMS:
        mode, norm = ATTNFD_ARMS[arm]
        distiller = common.attnfd_distiller(mode, norm)
    elif arm == 'attnfd_axial_sd':
        distiller = common.attnfd_axial_distiller()
    else:
        raise ValueError(f'unknown arm {arm!r}; choose from {ARMS}')
    return common.teacher_distill_cfg(student, teacher, distiller,
                                      teacher_ckpt)


def read_scalars(work_dir: str) -> dict:
    """Val mIoU per iteration and train seconds/iteration from the logs."""
    miou, times = {}, []
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if 'mIoU' in rec:
                    miou[int(rec['step'])] = float(rec['mIoU'])
                elif 'time' in rec and 'loss' in rec:
                    times.append(float(rec['time']))
    return dict(miou={str(k): miou[k] for k in sorted(miou)},
                sec_per_iter=statistics.median(times) if times else None)


def _last_ckpt(work_dir: str):
    path = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(path):
        with open(path) as f:
            ckpt = f.read().strip()
        return ckpt if osp.isfile(ckpt) else None
    return None


def run_training(name: str, model: dict, args, data_root: str, seed: int,
                 iters: int) -> dict:
    from mmengine.config import Config
    work_dir = osp.join(args.work_root, args.protocol, f'{name}_seed{seed}')
    result_path = osp.join(work_dir, 'result.json')
    if osp.isfile(result_path):
        with open(result_path) as f:
            result = json.load(f)
        if result.get('iters') == iters:
            print(f'[skip] {name} seed {seed}: finished', flush=True)
            return result
        raise RuntimeError(
            f'{work_dir} finished with {result.get("iters")} iterations, not '
            f'{iters}; pass --work-root for a new schedule or delete it.')
    os.makedirs(work_dir, exist_ok=True)
    cfg_path = osp.join(work_dir, 'config.py')
    Config(_train_cfg(model, args, data_root, work_dir, seed, iters)).dump(
        cfg_path)
    if args.dry_run:
        Config.fromfile(cfg_path)  # the dumped config must load back
        print(f'[dry-run] {name} seed {seed}: {cfg_path}', flush=True)
        return dict(arm=name, seed=seed, iters=iters, miou={},
                    sec_per_iter=None, checkpoint='<teacher checkpoint>',
                    config=cfg_path)
    cmd = [sys.executable, osp.join(common.REPO_ROOT, 'tools', 'train.py'),
           cfg_path, '--work-dir', work_dir]
    if args.resume and _last_ckpt(work_dir):
        cmd.append('--resume')
    print(f'[train] {name} seed {seed}: {iters} iters -> {work_dir}',
          flush=True)
    start = time.time()
    with open(osp.join(work_dir, 'train.log'), 'a') as log:
        proc = subprocess.run(cmd, cwd=common.REPO_ROOT, stdout=log,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise RuntimeError(f'training {name} seed {seed} failed; see '
                           f'{osp.join(work_dir, "train.log")}')
    result = dict(arm=name, seed=seed, iters=iters, protocol=args.protocol,
                  wall_s=time.time() - start, checkpoint=_last_ckpt(work_dir),
                  config=cfg_path)
    result.update(read_scalars(work_dir))
    common.write_json(result_path, result)
    return result


def axial_teacher_output(result: dict, args) -> dict:
    """Evaluate the exported teacher output of an axial SD run."""
    from mmseg_attnkd.utils.axial_export import export_axial_refine
    work_dir = osp.dirname(result['config'])
    out_path = osp.join(work_dir, 'teacher_output_result.json')
    if osp.isfile(out_path):
        with open(out_path) as f:
            return json.load(f)
    ckpt, cfg = export_axial_refine(
        result['config'], result['checkpoint'],
        osp.join(work_dir, 'export', 'teacher_output.pth'))
    test_dir = osp.join(work_dir, 'export', 'test')
    with open(osp.join(work_dir, 'export', 'test.log'), 'w') as log:
        subprocess.run([
            sys.executable,
            osp.join(common.REPO_ROOT, 'tools', 'test.py'), cfg, ckpt,
            '--work-dir', test_dir
        ], cwd=common.REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
            check=True)
    miou = None
    for path in glob.glob(osp.join(test_dir, '*', '*.json')):
        with open(path) as f:
            rec = json.load(f)
        miou = rec.get('mIoU', miou)
    out = dict(arm=f'{result["arm"]}_teacher', seed=result['seed'],
               iters=result['iters'],
               miou={str(result['iters']): miou} if miou is not None else {},
               sec_per_iter=result.get('sec_per_iter'))
    common.write_json(out_path, out)
    return out


def aggregate(results: list, args, info: dict) -> str:
    by_arm = {}
    for r in results:
        by_arm.setdefault(r['arm'], []).append(r)

    def ms(vals):
        vals = [v for v in vals if v is not None]
        if not vals:
            return '-'
        if len(vals) == 1:
            return f'{vals[0]:.2f}'
        return f'{statistics.mean(vals):.2f} +- {statistics.stdev(vals):.2f}'

    rows = []
    for arm, runs in by_arm.items():
        finals = [list(r['miou'].values())[-1] if r['miou'] else None
                  for r in runs]
        bests = [max(r['miou'].values()) if r['miou'] else None
                 for r in runs]
        spi = [r.get('sec_per_iter') for r in runs]
        rows.append([arm, len(runs), ms(finals), ms(bests),
                     ms(spi) if not arm.endswith('_teacher') else
                     '(same run)'])
    proto = PROTOCOLS[args.protocol]
    dev = info.get('gpu') or 'CPU'
    targets = target_lines(by_arm)
    h, w = proto['crop']
    lines = [
        f'### CamVid accuracy, {args.protocol} protocol ({dev})', '',
        f'Machine: {common.machine_line(info)}. {w}x{h} crops, batch '
        f'{proto["batch"]}, student {args.iters} iters, teacher DeepLabV3+ '
        f'R{proto["teacher_depth"]}-d8 {args.teacher_iters} iters; all '
        'models from scratch (no pretrained weights offline). mIoU in %, '
        'mean +- std over seeds.', '',
        common.md_table(['arm', 'seeds', 'final val mIoU', 'best val mIoU',
                         's/iter (median)'], rows)
    ]
    if targets:
        lines += ['', 'Targets (mean final val mIoU over seeds):', '']
        lines += [f'* {t}' for t in targets]
    return '\n'.join(lines)


def _mean_final(runs: list):
    vals = [list(r['miou'].values())[-1] for r in runs if r.get('miou')]
    return statistics.mean(vals) if vals else None


def target_lines(by_arm: dict) -> list:
    """The issue's accuracy targets, each stated as met or missed."""
    final = {arm: _mean_final(runs) for arm, runs in by_arm.items()}
    seeds = {arm: len(runs) for arm, runs in by_arm.items()}
    out = []

    def verdict(ok: bool) -> str:
        return 'met' if ok else 'missed'

    base, cwd = final.get('baseline'), final.get('cwd')
    for arm in [*ATTNFD_ARMS, 'attnfd_axial_sd']:
        if final.get(arm) is None or base is None:
            continue
        gain = final[arm] - base
        text = (f'`{arm}` vs baseline: {gain:+.2f} (target >= +2.00: '
                f'{verdict(gain >= 2.0)})')
        if cwd is not None:
            text += (f'; vs CWD: {final[arm] - cwd:+.2f} (target > 0: '
                     f'{verdict(final[arm] > cwd)})')
        out.append(text + f'; {seeds[arm]} seed(s)')
    for arm in AXIAL_ARMS:
        s_out, t_out = final.get(arm), final.get(f'{arm}_teacher')
        if s_out is None:
            continue
        if base is not None:
            out.append(f'`{arm}` student output vs baseline: '
                       f'{s_out - base:+.2f}')
        if t_out is not None:
            out.append(f'`{arm}` teacher output vs its student output: '
                       f'{t_out - s_out:+.2f}')
    if final.get('axial_sd') is not None:
        out.append('axial SD targets count architectures (student >= '
                   'baseline on 4 of 6, teacher >= student on 5 of 6): this '
                   'protocol measures one (DeepLabV3+ R18-d8), so neither '
                   'target is decided here')
    return out


def plot(results: list, path: str) -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(9, 4.5))
    by_arm, teacher = {}, None
    for r in results:
        if r['arm'] == 'teacher':
            teacher = r
            continue
        for it, v in r['miou'].items():
            by_arm.setdefault(r['arm'], {}).setdefault(int(it), []).append(v)
    colors = plt.cm.tab20.colors
    for i, (arm, pts) in enumerate(sorted(by_arm.items())):
        its = sorted(pts)
        mean = [statistics.mean(pts[i]) for i in its]
        color = colors[(2 * i) % 20 + (2 * i) // 20]
        if arm.endswith('_teacher'):  # exported output: final checkpoint
            ax.plot(its, mean, marker='*', markersize=12, linestyle='none',
                    color=color, label=f'{arm} (exported)')
        else:
            ax.plot(its, mean, marker='o', color=color, label=arm)
    if teacher and teacher['miou']:
        final = list(teacher['miou'].values())[-1]
        ax.axhline(final, color='k', linestyle='--', linewidth=1,
                   label='teacher, final '
                   f'({teacher["iters"]} iters)')
    ax.set_xlabel('iteration')
    ax.set_ylabel('val mIoU (%), mean over seeds')
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc='center left', bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    os.makedirs(osp.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--protocol', choices=tuple(PROTOCOLS),
                        default='cpu')
    parser.add_argument('--data-root',
                        default=osp.join(common.REPO_ROOT, '..', 'shared',
                                         'data', 'camvid_segnet'))
    parser.add_argument('--arms', nargs='+', default=list(ARMS),
                        choices=ARMS)
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--iters', type=int, default=None,
                        help='student iterations (protocol default)')
    parser.add_argument('--teacher-iters', type=int, default=None)
    parser.add_argument('--val-interval', type=int, default=None)
    parser.add_argument('--val-images', type=int, default=None,
                        help='validate on the first N val images only '
                        '(smoke runs; default: all 101)')
    parser.add_argument('--work-root',
                        default=osp.join(common.BENCH_DIR, 'cache',
                                         'accuracy'))
    parser.add_argument('--no-resume', dest='resume', action='store_false',
                        help='restart interrupted runs from scratch')
    parser.add_argument('--out-dir', default=common.RESULTS_DIR)
    parser.add_argument('--report-only', action='store_true',
                        help='rewrite the table and plot from the results '
                        'JSON in --out-dir (keeps its machine line); trains '
                        'nothing')
    parser.add_argument('--dry-run', action='store_true',
                        help='write and check every run config, train '
                        'nothing (e.g. to check the GPU protocol on a CPU)')
    args = parser.parse_args(argv)
    proto = PROTOCOLS[args.protocol]
    args.iters = args.iters or proto['iters']
    args.teacher_iters = args.teacher_iters or proto['teacher_iters']
    return args


def report_only(args) -> list:
    """Table, plot and README section from an existing results JSON."""
    name = f'accuracy_{args.protocol}'
    path = osp.join(args.out_dir, f'{name}.json')
    if not osp.isfile(path):
        raise SystemExit(f'{path} does not exist: run the protocol first.')
    with open(path) as f:
        data = json.load(f)
    runs = data['runs']
    text = aggregate(runs, args, data['machine'])
    plot(runs, osp.join(args.out_dir, f'{name}.png'))
    common.save_results(args.out_dir, name, text)
    print(text)
    return runs


def main(argv=None) -> list:
    args = parse_args(argv)
    if args.report_only:
        return report_only(args)
    import torch
    if args.protocol == 'gpu' and not torch.cuda.is_available() \
            and not args.dry_run:
        raise SystemExit('--protocol gpu needs a CUDA device; use --protocol '
                         'cpu here.')
    import mmseg_attnkd  # noqa: F401
    info = common.machine_info()
    data_root = prepare_data(args) if not args.dry_run else osp.join(
        common.BENCH_DIR, 'cache',
        f'camvid-scale{PROTOCOLS[args.protocol]["scale"]}')
    teacher = run_training('teacher', arm_model('teacher', args, None), args,
                           data_root, 0, args.teacher_iters)
    results, name = [], f'accuracy_{args.protocol}'
    failed = []
    for seed in args.seeds:
        for arm in args.arms:
            try:
                r = run_training(arm,
                                 arm_model(arm, args, teacher['checkpoint']),
                                 args, data_root, seed, args.iters)
                results.append(r)
                if arm in AXIAL_ARMS and not args.dry_run:
                    results.append(axial_teacher_output(r, args))
            except (RuntimeError, subprocess.CalledProcessError) as err:
                # an unattended protocol goes on with the other runs; the
                # failure is reported at the end and the run retried next time
                print(f'[failed] {arm} seed {seed}: {err}', flush=True)
                failed.append(f'{arm} seed {seed}')
                continue
            if args.dry_run:
                continue
            # refresh the outputs after every run (long protocol)
            all_runs = [teacher] + results
            plot(all_runs, osp.join(args.out_dir, f'{name}.png'))
            common.save_results(
                args.out_dir, name, aggregate(all_runs, args, info),
                dict(machine=info, args=vars(args), runs=all_runs),
                readme=False)
    if args.dry_run:
        return results
    text = aggregate([teacher] + results, args, info)
    common.save_results(args.out_dir, name, text, readme=True)
    print(text)
    if failed:
        raise SystemExit(f'{len(failed)} run(s) failed: {", ".join(failed)}; '
                         'see their train.log / export/test.log; rerun the '
                         'same command to retry them.')
    return results


if __name__ == '__main__':
    main()
