# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Adapt a config to the machine it runs on (CPU-only, no CUDA NCCL)."""
import logging
from typing import Any, List, Optional

import torch
from mmengine.config import Config
from mmengine.logging import print_log

__all__ = ['SYNC_BN_TYPES', 'replace_sync_bn', 'adapt_cfg_to_environment']

#: Norm layer types that need a process group (and, in torch, CUDA).
SYNC_BN_TYPES = ('SyncBN', 'MMSyncBN', 'nnSyncBN')


def replace_sync_bn(node: Any, path: str = 'model',
                    changed: Optional[List[str]] = None) -> Any:
    """Turn every SyncBN norm config under ``node`` into ``BN``, in place.

    Args:
        node: A config (dict, list or tuple, nested).
        path: Name of ``node`` in the messages.
        changed: Receives ``'<path> (<old type>)'`` for each replacement.

    Returns:
        ``node``.
    """
    changed = [] if changed is None else changed
    if isinstance(node, dict):
        if node.get('type') in SYNC_BN_TYPES:
            changed.append(f'{path} ({node["type"]})')
            node['type'] = 'BN'
        for key, value in node.items():
            replace_sync_bn(value, f'{path}.{key}' if path else key, changed)
    elif isinstance(node, (list, tuple)):
        for i, value in enumerate(node):
            replace_sync_bn(value, f'{path}[{i}]', changed)
    return node


def adapt_cfg_to_environment(cfg: Config) -> Config:
    """Make a GPU-oriented config runnable on this machine, in place.

    Without CUDA:

    * every ``SyncBN`` norm layer in ``cfg.model`` becomes ``BN`` (SyncBN
      has no CPU kernel in torch); each replacement is logged;
    * the distributed backend becomes ``gloo`` (NCCL needs CUDA).

    Configs that have CUDA are returned unchanged.

    Args:
        cfg: A loaded MMEngine config.

    Returns:
        The same config object.
    """
    if torch.cuda.is_available():
        return cfg
    changed: list = []
    if 'model' in cfg:
        replace_sync_bn(cfg.model, 'model', changed)
    if changed:
        print_log(
            'No CUDA device: SyncBN has no CPU implementation, so these '
            f'norm layers use BN instead: {", ".join(changed)}',
            logger='current', level=logging.WARNING)
    env_cfg = cfg.get('env_cfg', None)
    if env_cfg is not None:
        dist_cfg = env_cfg.setdefault('dist_cfg', {})
        if dist_cfg.get('backend', 'nccl') == 'nccl':
            dist_cfg['backend'] = 'gloo'
            print_log('No CUDA device: using the gloo distributed backend.',
                      logger='current', level=logging.INFO)
    return cfg
