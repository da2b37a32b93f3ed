# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Find the teacher and the student inside configs.

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
from typing import Optional, Tuple, Union

from mmengine.config import Config, ConfigDict

__all__ = [
    'load_config', 'is_distill_cfg', 'resolve_model_cfg',
    'get_student_model_cfg', 'get_teacher_model_cfg',
    'get_teacher_and_student_cfgs'
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
    """``'mmseg::pspnet/x.py'`` -> Config, as MMRazor's ``cfg_path`` does.

    :func:`mmengine.hub.get_config` finds configs listed in the package's
    metafiles and, failing that, under its ``configs/`` folder.
    """
    from mmengine.hub import get_config
    try:
        return get_config(cfg_path)
    except FileNotFoundError as err:
        raise FileNotFoundError(
            f'cannot resolve {cfg_path!r}: {err}. Check the package name and '
            'the relative path.') from err


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


def get_teacher_and_student_cfgs(
        cfg: CfgLike,
        student_cfg: Optional[CfgLike] = None
) -> Tuple[ConfigDict, ConfigDict]:
    """Teacher and student model configs of a distillation config ``cfg``,
    or of a teacher config ``cfg`` (a distillation config's teacher) and
    the student's config ``student_cfg``, which then gives the student."""
    if student_cfg is not None:
        return (get_teacher_model_cfg(cfg),
                get_student_model_cfg(load_config(student_cfg)))
    return get_teacher_model_cfg(cfg), get_student_model_cfg(cfg)
