# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Build the plain MMSeg model that is exported, refusing distillation files.

The exporter takes what the converters write: a plain MMSeg config and
checkpoint (``convert_kd_ckpt_to_student.py``) or the ``AxialRefineHead``
config and checkpoint (``convert_axial_ckpt_to_refine_head.py``). A
training checkpoint of a distillation run holds the student under
``architecture.``, the teacher under ``teacher.`` and the distillation
modules under ``distiller.``; exporting it directly would either fail on
key names or silently drop the teacher output, so it is refused with the
name of the converter to run.
"""
import os
import os.path as osp
from typing import Dict, Optional, Union

import torch
from mmengine.config import Config

from ..utils.checkpoint import (compare_keys, get_state_dict,
                                load_checkpoint_safely)
from ..utils.config import load_config
from .errors import DistillationCheckpointError

__all__ = ['DISTILL_PREFIXES', 'check_plain_checkpoint', 'check_plain_config',
           'init_export_model']

#: Top-level key prefixes of MMRazor distillation checkpoints.
DISTILL_PREFIXES = ('architecture.', 'teacher.', 'distiller.')

STUDENT_CONVERTER = 'tools/model_converters/convert_kd_ckpt_to_student.py'
AXIAL_CONVERTER = \
    'tools/model_converters/convert_axial_ckpt_to_refine_head.py'


def _has_axial_connector(state_dict: Dict[str, torch.Tensor]) -> bool:
    # AxialConnector keeps its AxialAttention2d under ``.axial.``; the
    # embedding is the one key every axial block has.
    return any(
        k.startswith('distiller.connectors.')
        and k.endswith('.axial.embed.weight') for k in state_dict)


def check_plain_checkpoint(state_dict: Dict[str, torch.Tensor],
                           source: str = 'the checkpoint') -> None:
    """Refuse a distillation state dict, naming the converter to run.

    Args:
        state_dict: Weights to export.
        source: How to name the file in the message.

    Raises:
        DistillationCheckpointError: Keys start with ``architecture.``,
            ``teacher.`` or ``distiller.``.
    """
    prefixes = sorted({p for p in DISTILL_PREFIXES
                       for k in state_dict if k.startswith(p)})
    if not prefixes:
        return
    found = ', '.join(f'"{p}*"' for p in prefixes)
    if _has_axial_connector(state_dict):
        raise DistillationCheckpointError(
            f'{source} is an axial self-distillation training checkpoint '
            f'({found} keys); convert it first: python {AXIAL_CONVERTER} '
            'TRAIN_CONFIG CKPT teacher_output.pth (teacher output, writes '
            f'its config too) or python {STUDENT_CONVERTER} CKPT student.pth '
            '--config TRAIN_CONFIG (student output), then export that.')
    raise DistillationCheckpointError(
        f'{source} is a distillation training checkpoint ({found} keys); '
        f'convert it first: python {STUDENT_CONVERTER} CKPT student.pth '
        '--config TRAIN_CONFIG, then export student.pth with the student\'s '
        'MMSeg config.')


def check_plain_config(cfg: Config, source: str = 'the config') -> None:
    """Refuse an MMRazor distillation config (``model.architecture``).

    Raises:
        DistillationCheckpointError: The model is a distillation algorithm.
    """
    model = cfg.get('model', None)
    if isinstance(model, dict) and 'architecture' in model:
        hint = (f'python {AXIAL_CONVERTER} (teacher output; it writes the '
                'MMSeg config) or ' if 'distiller' in model and 'Axial' in
                str(model['distiller'].get('type', '')) else '')
        raise DistillationCheckpointError(
            f'{source} is an MMRazor distillation config (model type '
            f'{model.get("type")!r}); export a plain MMSeg model: convert '
            f'the checkpoint with {hint}python {STUDENT_CONVERTER} and pass '
            'the student\'s MMSeg config.')


def init_export_model(config: Union[str, os.PathLike, Config, dict],
                      checkpoint: Optional[str] = None,
                      device: Union[str, torch.device] = 'cpu'
                      ) -> torch.nn.Module:
    """The plain MMSeg segmentor to export, in eval mode.

    Built with :func:`mmseg.apis.init_model`; SyncBN becomes BN (no CPU
    kernel), and the checkpoint is read weights-only and loaded strictly.

    Args:
        config: Plain MMSeg config (path, ``Config`` or dict); for the axial
            teacher output, the config written by
            ``convert_axial_ckpt_to_refine_head.py``.
        checkpoint: Plain MMSeg checkpoint (``None``: random weights, for
            latency measurements and tests).
        device: Where to build the model.

    Returns:
        nn.Module: The segmentor with ``dataset_meta`` from the checkpoint.

    Raises:
        DistillationCheckpointError: A distillation config or checkpoint.
        ValueError: The checkpoint does not fit the config.
    """
    from mmengine.model import revert_sync_batchnorm
    from mmseg.apis import init_model

    cfg = load_config(config)
    name = config if isinstance(config, (str, os.PathLike)) else 'the config'
    check_plain_config(cfg, str(name))
    state = loaded = None
    if checkpoint is not None:
        loaded = load_checkpoint_safely(checkpoint)
        state = get_state_dict(loaded)
        check_plain_checkpoint(state, osp.basename(os.fspath(checkpoint)))
    # init_model would load the file a second time; the weights are loaded
    # below, after the distillation check, from the copy already read.
    model = init_model(cfg, None, device='cpu')
    model = revert_sync_batchnorm(model)
    if state is not None:
        report = compare_keys(state, model)
        if not report.ok:
            raise ValueError(
                f'{checkpoint} does not fit the model of the config '
                f'({report.summary()}); pass the config the checkpoint was '
                'written for.')
        model.load_state_dict(state, strict=True)
        meta = (loaded.get('meta') or {}) if isinstance(loaded, dict) else {}
        if meta.get('dataset_meta'):
            model.dataset_meta = meta['dataset_meta']
    return model.to(device).eval()
