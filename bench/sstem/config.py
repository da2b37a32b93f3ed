# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""One run of the ssTEM study as a complete MMEngine config (its config file
of ``configs/sstem256/`` with the run's data, seed and schedule), and the
digest of its settings (paths masked) that decides whether a run folder or
a committed result belongs to it.
"""
import os.path as osp
from typing import Optional

from bench.lib import runs
from bench.sstem.arms import arm_config, arm_model, base_config
from bench.sstem.data import dataset_cfg


# ---------------------------------------------------------------------------
# one run
# ---------------------------------------------------------------------------
def run_dir(args, arch: str, arm: str, seed: int) -> str:
    return osp.join(args.work_root, args.protocol, f'{arch}_{arm}_seed{seed}')


#: ``--optimizer adamw``: the alternative to the configs' SGD.
ADAMW = dict(type='AdamW', betas=(0.9, 0.999), weight_decay=0.01)
#: What a run's config takes from its config file (the file's other keys
#: are its variables: data_root, pipelines, ...); the run adds its work dir.
FILE_KEYS = ('custom_imports', 'default_scope', 'model', 'randomness',
             'env_cfg', 'optim_wrapper', 'param_scheduler', 'train_cfg',
             'val_cfg', 'test_cfg', 'default_hooks', 'custom_hooks',
             'vis_backends', 'visualizer', 'log_processor', 'log_level',
             'load_from', 'resume', 'train_dataloader', 'val_dataloader',
             'test_dataloader', 'val_evaluator', 'test_evaluator')


def optimizer_cfg(name: str, lr: float,
                  optimizer: Optional[dict] = None) -> dict:
    """The configs' optimizer (SGD with momentum as MMSeg's configs;
    ``optimizer``, default the shared base's) at ``lr``, or AdamW."""
    if name == 'adamw':
        return dict(ADAMW, lr=lr)
    if optimizer is None:
        optimizer = base_config()['optim_wrapper']['optimizer']
    if optimizer['type'] != 'SGD':
        raise ValueError(f'--optimizer sgd, but the config has '
                         f'{optimizer["type"]}')
    return dict(optimizer, lr=lr)


def train_cfg(arch: str, arm: str, seed: int, args, data_dir: str,
              work_dir: str) -> dict:
    """The run's config: the arm's config file with the run's data, work
    dir, seed, model options (:func:`arm_model`) and schedule.

    Under the protocols the file is changed only where a run must be (data
    and work dir, seed, the visualizer's name, resuming) and where the
    study scores outside the Runner (``test_cfg``); the schedule and the
    model are the file's (the cpu protocol's; the gpu protocol changes
    batch, iterations and validation interval).
    """
    file_cfg = arm_config(arch, arm)
    iters = args.iters
    val_interval = min(args.val_interval, iters)
    cfg = {key: file_cfg[key] for key in FILE_KEYS}
    cfg.update(dataset_cfg(file_cfg, data_dir, args))
    cfg['model'] = arm_model(arch, arm, args)
    cfg['work_dir'] = work_dir
    cfg['randomness'] = dict(file_cfg['randomness'], seed=seed)
    cfg['optim_wrapper']['optimizer'] = optimizer_cfg(
        args.optimizer, args.lr, file_cfg['optim_wrapper']['optimizer'])
    file_iters = file_cfg['train_cfg']['max_iters']
    for scheduler in cfg['param_scheduler']:
        if scheduler.get('end') == file_iters:
            scheduler['end'] = iters
    cfg['train_cfg'].update(max_iters=iters, val_interval=val_interval)
    # the worker scores both outputs in both inference modes itself; the
    # Runner's test loop never runs (the recorded runs have TestLoop)
    cfg['test_cfg'] = dict(type='TestLoop')
    hooks = cfg['default_hooks']
    hooks['logger']['interval'] = min(hooks['logger']['interval'], iters)
    # frequent (small) checkpoints: an interruption loses little
    hooks['checkpoint']['interval'] = min(val_interval,
                                          hooks['checkpoint']['interval'])
    cfg['visualizer']['name'] = f'visualizer:{arch}_{arm}_{seed}'
    # a run of the study resumes from its last checkpoint
    cfg['resume'] = True
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
