# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Train an MMSeg model or an MMRazor distillation of MMSeg models.

Examples::

    python tools/train.py configs/attnfd/<config>.py
    python tools/train.py CONFIG --work-dir work_dirs/run1 --amp
    python tools/train.py CONFIG --channels-last --compile  # see bench/README
    python tools/train.py CONFIG --resume                # latest in work_dir
    python tools/train.py CONFIG --resume path/to/iter_4000.pth
    bash tools/dist_train.sh CONFIG 4                     # torchrun, 4 procs
"""
import argparse
import logging
import os.path as osp

import mmseg_attnkd  # noqa: F401  (compat fixes + registers components)
from mmengine.config import Config
from mmengine.logging import print_log
from mmengine.runner import Runner

from mmseg_attnkd.utils import adapt_cfg_to_environment
from mmseg_attnkd.utils.config.runner_cli import (add_runner_arguments,
                                                  load_runner_cfg,
                                                  parse_runner_args,
                                                  run_then_finish)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train a segmentor or a segmentation distillation')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume training: alone, from the latest checkpoint in the '
        'work dir; with a path, from that checkpoint')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic mixed precision training')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='train in channels-last memory format (adds ChannelsLastHook)')
    parser.add_argument(
        '--compile',
        action='store_true',
        help="torch.compile the train step (MMEngine's compile setting)")
    add_runner_arguments(
        parser, 'override config keys, e.g. train_cfg.max_iters=1000 '
        'model.distiller.loss_weight=2.0')
    return parse_runner_args(parser, argv)


def build_cfg(args: argparse.Namespace) -> Config:
    """Load the config and apply the command-line overrides."""
    cfg = load_runner_cfg(args)
    if args.amp:
        wrapper_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper_type == 'AmpOptimWrapper':
            print_log('AMP is already enabled in the config.',
                      logger='current', level=logging.WARNING)
        elif wrapper_type == 'OptimWrapper':
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
        else:
            raise ValueError(
                f'--amp needs optim_wrapper.type="OptimWrapper", but the '
                f'config uses "{wrapper_type}". Remove --amp or switch the '
                'config to OptimWrapper.')

    if args.channels_last:
        hooks = list(cfg.get('custom_hooks', None) or [])
        if not any(h.get('type') == 'ChannelsLastHook' for h in hooks):
            hooks.append(dict(type='ChannelsLastHook'))
        cfg.custom_hooks = hooks
    if args.compile:
        cfg.compile = True

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(
                f'--resume {args.resume}: no such checkpoint file. Pass an '
                'existing .pth, or use --resume alone to pick the latest '
                'checkpoint in the work dir.')
        cfg.resume = True
        cfg.load_from = args.resume

    adapt_cfg_to_environment(cfg)
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = build_cfg(args)
    if 'runner_type' in cfg:
        from mmengine.registry import RUNNERS
        runner = RUNNERS.build(cfg)
    else:
        runner = Runner.from_cfg(cfg)
    run_then_finish(runner.train)


if __name__ == '__main__':
    main()
