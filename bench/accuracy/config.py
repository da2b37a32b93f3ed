# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""One run of the CamVid protocol as a complete MMEngine config, and the
data it trains on (CamVid converted once at the protocol's scale).
"""
import copy
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


def train_cfg(model: dict, args, data_root: str, seed: int, iters: int,
              both_outputs: bool = False, workers: Optional[int] = None
              ) -> dict:
    """Complete MMEngine config of one run (test loader = test split)."""
    from mmengine.config import Config

    from mmseg_attnkd.utils.config.runtime import last_checkpoint_iter_hooks
    proto = args.proto
    base = Config.fromfile(
        osp.join(common.REPO_ROOT, 'configs', '_base_', 'datasets',
                 'camvid-240x180.py')).to_dict()
    cfg = copy.deepcopy(base)
    for key, split in (('train_dataloader', 'train'),
                       ('val_dataloader', 'val'), ('test_dataloader',
                                                   'test')):
        loader = cfg[key] = copy.deepcopy(base[key])
        loader['dataset']['data_root'] = data_root
        loader['dataset']['data_prefix'] = dict(
            img_path=f'img_dir/{split}', seg_map_path=f'ann_dir/{split}')
        num_workers = proto['workers'] if workers is None else workers
        loader['num_workers'] = num_workers
        loader['persistent_workers'] = num_workers > 0
        if key != 'train_dataloader' and args.val_images:
            loader['dataset']['indices'] = args.val_images
    cfg['train_dataloader']['batch_size'] = proto['batch']
    val_interval = min(proto['val_interval'], iters)
    warmup = min(proto['warmup'], max(iters // 10, 1))
    gpu = args.protocol == 'gpu'
    cfg.update(
        custom_imports=dict(imports=['mmseg_attnkd'],
                            allow_failed_imports=False),
        default_scope='mmseg',
        model=model,
        randomness=dict(seed=seed),
        env_cfg=dict(cudnn_benchmark=gpu,
                     mp_cfg=dict(mp_start_method='fork',
                                 opencv_num_threads=0),
                     dist_cfg=dict(backend='nccl' if gpu else 'gloo')),
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=proto['lr'], momentum=0.9,
                           weight_decay=5e-4)),
        param_scheduler=[
            dict(type='LinearLR', start_factor=0.1, begin=0, end=warmup,
                 by_epoch=False),
            dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=warmup,
                 end=iters, by_epoch=False)
        ],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=iters,
                       val_interval=val_interval),
        # axial SD: score the student and the axial teacher output (the
        # loops apply the trained block exactly as the exported model does)
        val_cfg=dict(type='mmrazor.SegSelfDistillValLoop'
                     if both_outputs else 'ValLoop'),
        test_cfg=dict(type='mmrazor.SegSelfDistillTestLoop'
                      if both_outputs else 'TestLoop'),
        default_hooks=last_checkpoint_iter_hooks(min(10, iters),
                                                 val_interval),
        vis_backends=[dict(type='LocalVisBackend')],
        visualizer=dict(type='SegLocalVisualizer',
                        vis_backends=[dict(type='LocalVisBackend')],
                        name='visualizer'),
        log_processor=dict(by_epoch=False),
        log_level='INFO',
        load_from=None,
        resume=False)
    return cfg
