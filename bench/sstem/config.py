# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""One run of the ssTEM study as a complete MMEngine config, and the digest
of its settings (paths masked) that decides whether a run folder or a
committed result belongs to it.
"""
import os.path as osp

from bench.lib import runs
from bench.sstem.arms import TEACHER_KEY, arm_model
from bench.sstem.data import dataset_cfg


# ---------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------
def run_dir(args, arch: str, arm: str, seed: int) -> str:
    return osp.join(args.work_root, args.protocol, f'{arch}_{arm}_seed{seed}')


def optimizer_cfg(name: str, lr: float) -> dict:
    """SGD with momentum as MMSeg's configs, or AdamW."""
    if name == 'adamw':
        return dict(type='AdamW', lr=lr, betas=(0.9, 0.999),
                    weight_decay=0.01)
    return dict(type='SGD', lr=lr, momentum=0.9, weight_decay=5e-4)


def train_cfg(arch: str, arm: str, seed: int, args, data_dir: str,
              work_dir: str) -> dict:
    iters = args.iters
    val_interval = min(args.val_interval, iters)
    model = arm_model(arch, arm, args)
    save_best = ['mIoU', TEACHER_KEY] if arm == 'sd' else ['mIoU']
    cfg = dataset_cfg(data_dir, args)
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
            optimizer=optimizer_cfg(args.optimizer, args.lr)),
        param_scheduler=[
            dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0, end=iters,
                 by_epoch=False)
        ],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=iters,
                       val_interval=val_interval),
        val_cfg=dict(type='mmrazor.SegSelfDistillValLoop')
        if arm == 'sd' else dict(type='ValLoop'),
        test_cfg=dict(type='TestLoop'),
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=min(20, iters),
                        log_metric_by_epoch=False),
            param_scheduler=dict(type='ParamSchedulerHook'),
            # frequent (small) checkpoints: an interruption loses little
            checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False,
                            interval=min(val_interval, 100),
                            max_keep_ckpts=1,
                            save_best=save_best, rule='greater'),
            sampler_seed=dict(type='DistSamplerSeedHook')),
        # a resumed run draws the same dropout and flips as an uninterrupted
        # one, and validation does not move the random stream
        custom_hooks=[dict(type='RandomStateHook')],
        vis_backends=[dict(type='LocalVisBackend')],
        visualizer=dict(type='SegLocalVisualizer',
                        vis_backends=[dict(type='LocalVisBackend')],
                        name=f'visualizer:{arch}_{arm}_{seed}'),
        log_processor=dict(by_epoch=False),
        log_level='INFO',
        load_from=None,
        resume=True)
    return cfg


def run_config_sha(arch: str, arm: str, seed: int, args,
                   data_dir: str) -> str:
    """Digest of a run's settings, so a run is resumed or reused only under
    the settings it was started with."""
    work_dir = run_dir(args, arch, arm, seed)
    return settings_sha(train_cfg(arch, arm, seed, args, data_dir, work_dir),
                         args, work_dir, data_dir)


def settings_sha(cfg: dict, args, work_dir: str, data_dir: str) -> str:
    """The training config and ``--select`` (which checkpoint the test
    scores), with the run's and the data's paths masked."""
    return runs.config_digest(dict(cfg, select=args.select), work_dir,
                              data_dir)


def other_settings(work_dir: str) -> str:
    return (f'{work_dir} was started with other settings (config, schedule '
            'or --select); pass a new --work-root for them, or delete that '
            'folder to run it again.')
