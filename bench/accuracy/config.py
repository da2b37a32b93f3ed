# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""One run of the CamVid protocol as a complete MMEngine config, and the
data it trains on (CamVid converted once at the protocol's scale).
"""
import os.path as osp
import subprocess
import sys
from typing import Optional

from bench.lib import common


# ---------------------------------------------------------------------------
# data and configs
# ---------------------------------------------------------------------------
def prepare_data(args) -> str:
    """CamVid converted once (train, val, test) at the protocol's scale."""
    scale = args.proto['scale']
    out = args.data_cache or osp.join(common.BENCH_DIR, 'cache',
                                      f'camvid-v2-scale{scale}')
    done = osp.join(out, '.complete')
    if osp.isfile(done) or args.dry_run:
        return out
    if not osp.isdir(args.data_root):
        raise SystemExit(
            f'--data-root {args.data_root} does not exist; pass the SegNet '
            'CamVid folder (train/, val/, test/ and their *annot/ folders).')
    subprocess.run([
        sys.executable,
        osp.join(common.REPO_ROOT, 'tools', 'dataset_converters',
                 'camvid.py'), '--data-root', args.data_root, '--out-dir',
        out, '--splits', 'train', 'val', 'test', '--scale', str(scale)
    ], check=True, cwd=common.REPO_ROOT)
    common.write_text(done, 'ok')
    return out


#: the protocol's runtime: data, optimiser, schedule, loops and hooks of the
#: CamVid CPU configs; a run replaces the model and what its protocol sets
BASE_CONFIG = osp.join(common.REPO_ROOT, 'configs', 'camvid240',
                       '_base_camvid240.py')
#: variables of the base config that are no MMEngine setting
_BASE_VARIABLES = ('data_root', 'loader', 'max_iters', 'warmup',
                   'teacher_ckpt', 'student_model', 'teacher_model')


def train_cfg(model: dict, args, data_root: str, seed: int, iters: int,
              both_outputs: bool = False, workers: Optional[int] = None
              ) -> dict:
    """Complete MMEngine config of one run (test loader = test split):
    :data:`BASE_CONFIG` with ``model``, the data folder, the seed and the
    protocol's batch, learning rate, schedule and workers."""
    from mmengine.config import Config
    proto = args.proto
    cfg = Config.fromfile(BASE_CONFIG).to_dict()
    for key in _BASE_VARIABLES:
        cfg.pop(key)
    num_workers = proto['workers'] if workers is None else workers
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader['dataset']['data_root'] = data_root
        loader['num_workers'] = num_workers
        loader['persistent_workers'] = num_workers > 0
        if key != 'train_dataloader' and args.val_images:
            loader['dataset']['indices'] = args.val_images
    cfg['train_dataloader']['batch_size'] = proto['batch']
    cfg['optim_wrapper']['optimizer']['lr'] = proto['lr']
    val_interval = min(proto['val_interval'], iters)
    warmup = min(proto['warmup'], max(iters // 10, 1))
    cfg['param_scheduler'][0]['end'] = warmup
    cfg['param_scheduler'][1].update(begin=warmup, end=iters)
    cfg['train_cfg'].update(max_iters=iters, val_interval=val_interval)
    hooks = cfg['default_hooks']
    hooks['logger']['interval'] = min(10, iters)
    hooks['checkpoint']['interval'] = val_interval
    gpu = args.protocol == 'gpu'
    cfg['env_cfg'].update(cudnn_benchmark=gpu, dist_cfg=dict(
        backend='nccl' if gpu else 'gloo'))
    cfg.update(model=model, randomness=dict(seed=seed))
    if both_outputs:
        # axial SD: score the student and the axial teacher output (the
        # loops apply the trained block exactly as the exported model does)
        cfg.update(val_cfg=dict(type='mmrazor.SegSelfDistillValLoop'),
                   test_cfg=dict(type='mmrazor.SegSelfDistillTestLoop'))
    return cfg
