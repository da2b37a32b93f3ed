# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""``--cfg-options`` of a short run: its data location and schedule.

Shared by the demo (``tools/demo.py``) and the benchmarks that train the
demo configs (``bench/axial_detach/``).
"""
from typing import List

__all__ = ['data_root_options', 'schedule_options']


def data_root_options(data_root: str) -> List[str]:
    """--cfg-options that point every dataloader at ``data_root``."""
    return [
        f'{loader}.dataset.data_root={data_root}'
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader')
    ]


def schedule_options(iters: int, data_root: str) -> List[str]:
    """--cfg-options that set the schedule length and the data location.

    Warm-up ``min(20, iters // 5)`` iterations (at least one), validation
    once at the end, three checkpoints.
    """
    warmup = max(min(20, iters // 5), 1)
    return [
        f'train_cfg.max_iters={iters}',
        f'train_cfg.val_interval={iters}',
        f'param_scheduler.0.end={warmup}',
        f'param_scheduler.1.begin={warmup}',
        f'param_scheduler.1.end={iters}',
        f'default_hooks.checkpoint.interval={max(iters // 3, 1)}',
    ] + data_root_options(data_root)
