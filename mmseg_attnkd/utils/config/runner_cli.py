# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The command line that ``tools/train.py`` and ``tools/test.py`` share.

Both run an MMEngine ``Runner`` on a config: they take ``--cfg-options``,
the job launcher and the rank a distributed launcher passes, choose the
work dir the same way and end a distributed run the same way. Not
imported by ``mmseg_attnkd.utils``.
"""
import argparse
import os
import os.path as osp
from typing import Any, Callable, List, Optional

from mmengine.config import Config, DictAction

from ..distributed import destroy_distributed, exit_after_distributed_run

__all__ = [
    'add_runner_arguments', 'parse_runner_args', 'load_runner_cfg',
    'run_then_finish'
]


def add_runner_arguments(parser: argparse.ArgumentParser,
                         cfg_options_help: str) -> None:
    """Add ``--cfg-options``, ``--launcher`` and ``--local-rank``."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help=cfg_options_help)
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed launchers pass --local-rank (torch>=2) or
    # --local_rank (older); accept both spellings.
    parser.add_argument('--local-rank', '--local_rank', type=int, default=0)


def parse_runner_args(parser: argparse.ArgumentParser,
                      argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse ``argv``; the rank also goes to ``LOCAL_RANK`` unless set."""
    args = parser.parse_args(argv)
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def load_runner_cfg(args: argparse.Namespace) -> Config:
    """``args.config`` with the launcher and ``--cfg-options`` applied.

    Work dir priority: ``--work-dir`` > the config's ``work_dir`` >
    ``./work_dirs/<config file name>``.
    """
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def run_then_finish(run: Callable[[], Any]) -> None:
    """Call ``run`` (``runner.train`` or ``runner.test``); then destroy the
    process group, also when ``run`` raised, and end a distributed process
    (:func:`exit_after_distributed_run`)."""
    try:
        run()
    finally:
        distributed = destroy_distributed()
    if distributed:
        exit_after_distributed_run()
