# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Small, fast building blocks for tests, the CPU demo and benchmarks.

Nothing here is used by the library itself; it exists so that every test,
the fallback demo and quick benchmarks share one definition of a tiny MMSeg
model and one generated dataset instead of re-declaring them.
"""
from .batches import loss_step, seg_batch
from .configs import (cwd_distill_cfg, cwd_distiller, logit_distiller,
                      tiny_teacher_distill_cfg, write_config)
from .network import free_port
from .synthetic import generate_seg_dataset, synthetic_dataset_cfg
from .tiny_models import (tiny_deeplabv3_cfg, tiny_deeplabv3plus_cfg,
                          tiny_fcn_cfg, tiny_fpn_cfg, tiny_pidnet_cfg,
                          tiny_pspnet_cfg, tiny_runtime_cfg,
                          tiny_segformer_cfg, tiny_unet_fcn_cfg,
                          tiny_upernet_cfg)

__all__ = [
    # tiny models and their runtime
    'tiny_deeplabv3plus_cfg', 'tiny_deeplabv3_cfg', 'tiny_pspnet_cfg',
    'tiny_fcn_cfg', 'tiny_fpn_cfg', 'tiny_upernet_cfg', 'tiny_unet_fcn_cfg',
    'tiny_segformer_cfg', 'tiny_pidnet_cfg',
    'tiny_runtime_cfg',
    # data
    'generate_seg_dataset', 'synthetic_dataset_cfg', 'seg_batch', 'loss_step',
    # distillation recipes and configs
    'logit_distiller', 'cwd_distiller', 'tiny_teacher_distill_cfg',
    'cwd_distill_cfg', 'write_config',
    # processes
    'free_port'
]
