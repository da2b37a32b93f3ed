# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Runtime settings that configs built in code share.

Used by ``tools/fit_teacher_attention.py`` and the CamVid accuracy
protocol.
"""

__all__ = ['last_checkpoint_iter_hooks']


def last_checkpoint_iter_hooks(log_interval: int,
                               checkpoint_interval: int) -> dict:
    """MMEngine's ``default_hooks`` of an iteration-based run that keeps
    only its last checkpoint, written atomically (``AtomicCheckpointHook``,
    every ``checkpoint_interval`` iterations and at the end)."""
    return dict(
        timer=dict(type='IterTimerHook'),
        logger=dict(type='LoggerHook', interval=log_interval,
                    log_metric_by_epoch=False),
        param_scheduler=dict(type='ParamSchedulerHook'),
        checkpoint=dict(type='AtomicCheckpointHook', by_epoch=False,
                        interval=checkpoint_interval, max_keep_ckpts=1,
                        save_last=True),
        sampler_seed=dict(type='DistSamplerSeedHook'))
