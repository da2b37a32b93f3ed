# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Find and build the teacher and student inside configs.

Tools accept either a plain MMSeg model config or an MMRazor distillation
config (``SingleTeacherDistill`` and friends keep the student in
``model.architecture`` and the teacher in ``model.teacher``). Either part may
be written inline or as ``dict(cfg_path='mmseg::...', pretrained=False)``,
which MMRazor resolves through :func:`mmengine.hub.get_model`; the helpers
here resolve it the same way without downloading anything.
"""
import copy
import os
import os.path as osp
from typing import Optional, Union

import torch
from mmengine.config import Config, ConfigDict

__all__ = [
    'load_config', 'is_distill_cfg', 'resolve_model_cfg',
    'get_student_model_cfg', 'get_teacher_model_cfg', 'build_segmentor',
    'build_distill_model'
]

CfgLike = Union[str, os.PathLike, Config, dict]


def load_config(cfg: CfgLike) -> Config:
    """A :class:`Config` from a path, a ``Config`` or a plain dict.

    Raises:
        FileNotFoundError: ``cfg`` is a path that does not exist.
        TypeError: ``cfg`` is none of the accepted types.
    """
    if isinstance(cfg, Config):
        return cfg
    if isinstance(cfg, (str, os.PathLike)):
        path = os.fspath(cfg)
        if '::' in path:
            return _external_config(path)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'config {path!r} does not exist; pass the path of a .py '
                'config (or an "mmseg::<dir>/<name>.py" reference).')
        return Config.fromfile(path)
    if isinstance(cfg, dict):
        return Config(copy.deepcopy(dict(cfg)))
    raise TypeError('expected a config path, Config or dict, got '
                    f'{type(cfg).__name__}')


def _external_config(cfg_path: str) -> Config:
    """``'mmseg::pspnet/x.py'`` -> Config, as MMRazor's ``cfg_path`` does."""
    from mmengine.hub import get_config
    try:
        return get_config(cfg_path)
    except Exception as err:  # not listed in the package's metafiles
        from mmengine.config.utils import _get_package_and_cfg_path
        from mmengine.utils import get_installed_path
        package, rel = _get_package_and_cfg_path(cfg_path)
        path = osp.join(get_installed_path(package), '.mim', 'configs', rel)
        if not osp.isfile(path):
            raise FileNotFoundError(
                f'cannot resolve {cfg_path!r}: {err}; {path} does not exist '
                'either. Check the package name and the relative path.'
            ) from err
        return Config.fromfile(path)


def is_distill_cfg(model_cfg: dict) -> bool:
    """Whether a model config is an MMRazor algorithm with a teacher."""
    return isinstance(model_cfg, dict) and 'architecture' in model_cfg \
        and 'teacher' in model_cfg


def resolve_model_cfg(node: dict) -> ConfigDict:
    """Inline model config of ``node`` (resolves ``cfg_path`` references).

    Args:
        node: An inline model dict (with ``type``) or
            ``dict(cfg_path='pkg::path.py', pretrained=...)``.

    Returns:
        ConfigDict: A model config with ``_scope_`` set (``mmseg`` unless
        given) and the referenced config's ``data_preprocessor``.
    """
    if not isinstance(node, dict):
        raise TypeError('a model config must be a dict, got '
                        f'{type(node).__name__}')
    node = copy.deepcopy(node)
    if node.get('cfg_path') and not node.get('type'):
        cfg_path = node['cfg_path']
        ext = _external_config(cfg_path) if '::' in cfg_path \
            else load_config(cfg_path)
        model = copy.deepcopy(ext.model)
        if 'data_preprocessor' in ext and 'data_preprocessor' not in model:
            model['data_preprocessor'] = copy.deepcopy(ext.data_preprocessor)
        scope = cfg_path.split('::')[0] if '::' in cfg_path else 'mmseg'
        model.setdefault('_scope_', scope)
        return ConfigDict(model)
    if 'type' not in node:
        raise ValueError(
            'model config has neither "type" nor "cfg_path"; its keys are '
            f'{sorted(node)}. Give a full model dict or '
            'dict(cfg_path="mmseg::<dir>/<config>.py").')
    node.setdefault('_scope_', 'mmseg')
    return ConfigDict(node)


def _model_section(cfg: CfgLike) -> ConfigDict:
    cfg = load_config(cfg)
    if 'model' in cfg:
        return cfg.model
    if 'type' in cfg or 'cfg_path' in cfg:  # a bare model dict
        return ConfigDict(cfg.to_dict())
    raise ValueError('the config has no "model" section; pass an MMSeg '
                     'model config or an MMRazor distillation config.')


def get_student_model_cfg(cfg: CfgLike) -> ConfigDict:
    """Student model config: ``model.architecture`` or the plain ``model``.

    Args:
        cfg: Distillation config (path, Config or dict) or a plain MMSeg
            config, in which case its ``model`` is returned.
    """
    model = _model_section(cfg)
    if 'architecture' in model:
        return resolve_model_cfg(model['architecture'])
    return resolve_model_cfg(model)


def get_teacher_model_cfg(cfg: CfgLike) -> ConfigDict:
    """Teacher model config: ``model.teacher`` of a distillation config.

    A plain MMSeg config is returned as is (it *is* the teacher).
    """
    model = _model_section(cfg)
    if 'architecture' in model and 'teacher' not in model:
        raise ValueError(
            f'model type {model.get("type")!r} has an architecture but no '
            'teacher (self-distillation?); pass the teacher config '
            'explicitly.')
    if 'teacher' in model:
        return resolve_model_cfg(model['teacher'])
    return resolve_model_cfg(model)


def build_segmentor(model_cfg: dict,
                    device: Union[str, torch.device] = 'cpu',
                    checkpoint: Optional[str] = None,
                    eval_mode: bool = True) -> torch.nn.Module:
    """Build an MMSeg segmentor from a model config, ready for inference.

    SyncBN becomes BN (no CPU kernel), ``init_cfg``/``pretrained`` are dropped
    so nothing is downloaded, and ``checkpoint`` (optional) is loaded
    strictly with weights-only loading.

    Args:
        model_cfg: An MMSeg model config (see :func:`resolve_model_cfg`).
        device: Where to put the model.
        checkpoint: Optional plain MMSeg checkpoint to load.
        eval_mode: Call ``model.eval()``.
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope
    from mmseg.registry import MODELS

    from .env import _replace_sync_bn
    cfg = copy.deepcopy(resolve_model_cfg(model_cfg))
    cfg.pop('pretrained', None)
    for key in ('backbone', 'neck', 'decode_head', 'auxiliary_head'):
        part = cfg.get(key)
        if isinstance(part, dict) and 'init_cfg' in part:
            part['init_cfg'] = None
    _replace_sync_bn(cfg, 'model', [])
    scope = cfg.pop('_scope_', 'mmseg')
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg)
    model = revert_sync_batchnorm(model)
    if checkpoint is not None:
        from .kd_checkpoint import load_segmentor_weights
        load_segmentor_weights(model, checkpoint)
    model.to(device)
    if eval_mode:
        model.eval()
    return model


def build_distill_model(cfg: CfgLike,
                        checkpoint: Optional[str] = None,
                        device: Union[str, torch.device] = 'cpu'
                        ) -> torch.nn.Module:
    """Build an MMRazor distillation model from a config, for inference.

    ``teacher_ckpt`` is ignored (a distillation checkpoint holds the
    teacher's weights too), SyncBN becomes BN, and ``checkpoint`` is loaded
    strictly (weights-only).

    Args:
        cfg: The distillation config (path, Config or dict).
        checkpoint: Checkpoint written by ``tools/train.py`` for it.
        device: Where to put the model.

    Raises:
        ValueError: The config's model is not an MMRazor algorithm, or the
            checkpoint does not fit it.
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import DefaultScope
    from mmrazor.registry import MODELS

    from .env import _replace_sync_bn
    from .kd_checkpoint import compare_keys, get_state_dict
    cfg = load_config(cfg)
    model_cfg = copy.deepcopy(cfg.get('model'))
    if not isinstance(model_cfg, dict) or 'architecture' not in model_cfg:
        raise ValueError(
            'the config is not an MMRazor distillation config (no '
            'model.architecture); pass the config used for distillation.')
    if 'teacher_ckpt' in model_cfg:
        model_cfg['teacher_ckpt'] = None
    _replace_sync_bn(model_cfg, 'model', [])
    scope = model_cfg.pop('_scope_', 'mmrazor')
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(model_cfg)
    model = revert_sync_batchnorm(model)
    if checkpoint is not None:
        from .checkpoint import load_checkpoint_safely
        loaded = load_checkpoint_safely(checkpoint)
        state = get_state_dict(loaded)
        report = compare_keys(state, model)
        if not report.ok:
            raise ValueError(
                f'{checkpoint} does not fit the distillation model of the '
                f'config ({report.summary()}); pass the config the '
                'checkpoint was trained with.')
        model.load_state_dict(state, strict=True)
        meta = loaded.get('meta') or {}
        if 'dataset_meta' in meta:
            model.dataset_meta = meta['dataset_meta']
    model.to(device)
    model.eval()
    return model
