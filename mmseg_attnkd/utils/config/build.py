# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Build segmentors and distillation models from configs, for inference."""
import copy
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import DefaultScope

from ..checkpoint import load_segmentor_weights
from .environment import replace_sync_bn
from .resolve import CfgLike, load_config, resolve_model_cfg

__all__ = ['build_segmentor', 'build_distill_model', 'skip_fitted_attention']


def build_segmentor(model_cfg: dict,
                    device: Union[str, torch.device] = 'cpu',
                    checkpoint: Optional[str] = None,
                    eval_mode: bool = True) -> torch.nn.Module:
    """Build an MMSeg segmentor from a model config, ready for inference.

    Built by :func:`mmseg.apis.init_model` (which drops ``pretrained`` and
    the backbone's ``init_cfg``, so nothing is downloaded); SyncBN becomes BN
    (no CPU kernel), and ``checkpoint`` (optional) is loaded strictly with
    weights-only loading (:func:`~..checkpoint.load_segmentor_weights`; a
    distillation checkpoint contributes its student).

    Args:
        model_cfg: An MMSeg model config (see :func:`resolve_model_cfg`).
        device: Where to put the model.
        checkpoint: Optional plain MMSeg or distillation checkpoint to load.
        eval_mode: Call ``model.eval()``; otherwise the model is in train
            mode.
    """
    from mmseg.apis import init_model
    cfg = copy.deepcopy(resolve_model_cfg(model_cfg))
    replace_sync_bn(cfg)
    scope = cfg.pop('_scope_', 'mmseg')
    # init_model sets the process-wide default scope; keep it to this call.
    with DefaultScope.overwrite_default_scope(scope):
        model = init_model(
            Config(dict(model=cfg, default_scope=scope)), device='cpu')
    model = revert_sync_batchnorm(model)
    if checkpoint is not None:
        load_segmentor_weights(model, checkpoint)
    model.to(device)
    model.train(not eval_mode)  # some train() overrides return None
    return model


def skip_fitted_attention(distiller: Optional[dict]) -> None:
    """Make an AttnFD distiller config (in place) build without reading its
    fitted teacher-attention file, for a model whose checkpoint is loaded
    afterwards: the file checks the teacher's weights, and the checkpoint
    holds the teacher attention itself. Other distillers are left alone."""
    if not isinstance(distiller, dict) or 'AttnFD' not in str(
            distiller.get('type', '')):
        return
    if distiller.get('teacher_attention', 'fitted') in ('fitted', 'frozen'):
        distiller.update(teacher_attention='random',
                         teacher_attention_ckpt=None)


def build_distill_model(cfg: CfgLike,
                        checkpoint: Optional[str] = None,
                        device: Union[str, torch.device] = 'cpu'
                        ) -> torch.nn.Module:
    """Build an MMRazor distillation model from a config, for inference.

    ``teacher_ckpt`` and a fitted AttnFD teacher-attention file are ignored
    (a distillation checkpoint holds the teacher's weights and its
    attention too), SyncBN becomes BN, and ``checkpoint`` is loaded
    strictly (weights-only).

    Args:
        cfg: The distillation config (path, Config or dict).
        checkpoint: Checkpoint written by ``tools/train.py`` for it.
        device: Where to put the model.

    Raises:
        ValueError: The config's model is not an MMRazor algorithm, or the
            checkpoint does not fit it.
    """
    from mmrazor.registry import MODELS
    model_cfg = copy.deepcopy(load_config(cfg).get('model'))
    if not isinstance(model_cfg, dict) or 'architecture' not in model_cfg:
        raise ValueError(
            'the config is not an MMRazor distillation config (no '
            'model.architecture); pass the config used for distillation.')
    if 'teacher_ckpt' in model_cfg:
        model_cfg['teacher_ckpt'] = None
    skip_fitted_attention(model_cfg.get('distiller'))
    replace_sync_bn(model_cfg)
    with DefaultScope.overwrite_default_scope(
            model_cfg.pop('_scope_', 'mmrazor')):
        model = revert_sync_batchnorm(MODELS.build(model_cfg))
    if checkpoint is not None:
        load_segmentor_weights(
            model, checkpoint,
            hint='Pass the distillation config the checkpoint was trained '
            'with.')
    model.to(device)
    model.eval()
    return model
