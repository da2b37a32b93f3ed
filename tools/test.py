# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Evaluate a checkpoint (plain MMSeg model, distilled student, or an
axial teacher-output export) on a config's test set.

Example::

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out DIR]
"""
import argparse
import os.path as osp

import mmseg_attnkd  # noqa: F401  (compat fixes + registers components)
from mmengine.config import Config
from mmengine.runner import Runner

from mmseg_attnkd.utils import adapt_cfg_to_environment, skip_fitted_attention
from mmseg_attnkd.utils.config.runner_cli import (add_runner_arguments,
                                                  load_runner_cfg,
                                                  parse_runner_args,
                                                  run_then_finish)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a segmentor')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where metrics and logs go')
    parser.add_argument(
        '--out', help='directory to save predicted masks (PNG) into')
    parser.add_argument(
        '--show-dir', help='directory to save painted predictions into')
    add_runner_arguments(
        parser, 'override config keys, e.g. test_dataloader.batch_size=1')
    return parse_runner_args(parser, argv)


def build_cfg(args: argparse.Namespace) -> Config:
    cfg = load_runner_cfg(args)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(
            f'checkpoint {args.checkpoint!r} does not exist; pass the path of '
            'a .pth written by tools/train.py or a converter in '
            'tools/model_converters/.')
    cfg.load_from = args.checkpoint
    # the checkpoint holds an AttnFD teacher attention: no fitted file needed
    if isinstance(cfg.get('model'), dict):
        skip_fitted_attention(cfg.model.get('distiller'))
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True
    if args.show_dir is not None:
        hook = cfg.default_hooks.get('visualization', None)
        if hook is None:
            raise ValueError('--show-dir needs default_hooks.visualization '
                             '(SegVisualizationHook) in the config.')
        hook['draw'] = True
        visualizer = cfg.visualizer
        visualizer['save_dir'] = args.show_dir
    adapt_cfg_to_environment(cfg)
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = build_cfg(args)
    runner = Runner.from_cfg(cfg)
    run_then_finish(runner.test)


if __name__ == '__main__':
    main()
