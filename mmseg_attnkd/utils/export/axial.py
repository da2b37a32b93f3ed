# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Export axial self-distillation's *teacher output* as a plain MMSeg model.

A ``SelfDistill`` + ``AxialSelfDistiller`` checkpoint holds the segmentor
under ``architecture.`` and the axial block under
``distiller.connectors.<name>.axial.``. The export is the same segmentor
with its decode head wrapped as ``AxialRefineHead(base_head, axial)``:

* config: ``model = architecture`` with ``decode_head`` (or
  ``decode_head[i]`` for a cascade) replaced by the wrapper; everything else
  (data, evaluator, runtime) is kept, MMRazor-only loops are replaced;
* weights: ``architecture.<head>.X`` -> ``<head>.base_head.X``,
  ``distiller.connectors.<name>.axial.X`` -> ``<head>.axial.X``, other
  ``architecture.`` keys lose the prefix.

The result loads with ``mmseg.apis.init_model`` and ``tools/test.py`` and
returns exactly the teacher logits of training for the same weights.
"""
import copy
import inspect
import os.path as osp
from collections import OrderedDict
from typing import Dict, Optional, Tuple, Union

from mmengine.config import Config

from ..checkpoint import (compare_keys, export_meta,
                          extract_student_state_dict, get_state_dict,
                          load_checkpoint_safely, make_plain_checkpoint,
                          save_checkpoint_atomic, select_prefix)
from ..config import build_segmentor, get_student_model_cfg, load_config

__all__ = [
    'AXIAL_CONNECTOR_ONLY_KEYS', 'axial_refine_model_cfg',
    'convert_axial_state_dict', 'export_axial_refine'
]

#: ``AxialConnector`` options that are not ``AxialAttention2d`` arguments.
AXIAL_CONNECTOR_ONLY_KEYS = ('type', 'in_channels', 'detach_input',
                             'memory_budget_gb', 'init_cfg')


def _axial_branch_args(distiller: dict) -> Optional[Tuple[str, dict]]:
    """``(head, axial)`` of a distiller with an axial branch, else None.

    Read from the config's structure: its ``head``/``axial`` entries, or
    the defaults of the ``head``/``axial`` arguments that the distiller
    class or a class of its MRO takes (``AxialSelfDistiller`` and
    ``AttnFDAxialDistiller`` through ``AxialBranchMixin``, or any distiller
    with the same arguments).
    """
    from mmrazor.registry import MODELS  # utils import no MMRazor eagerly
    type_ = distiller.get('type')
    cls = MODELS.get(type_) if isinstance(type_, str) else type_
    params = {}
    for klass in reversed(cls.__mro__ if inspect.isclass(cls) else ()):
        if '__init__' in vars(klass):  # the nearest definition wins
            params.update(inspect.signature(klass.__init__).parameters)
    if 'axial' not in distiller and 'axial' not in params:
        return None
    default = params['head'].default if 'head' in params else 'decode_head'
    head = distiller.get('head', default)
    if not isinstance(head, str):
        head = 'decode_head'
    return head, dict(distiller.get('axial', None) or {})


def _distill_parts(cfg: Config, connector: str) -> Tuple[dict, str, dict]:
    """(architecture cfg, head path, AxialAttention2d kwargs)."""
    model_cfg = cfg.model
    if 'architecture' not in model_cfg or 'distiller' not in model_cfg:
        raise ValueError(
            'the config\'s model is not an MMRazor distillation (no '
            'architecture/distiller); pass the axial self-distillation '
            'training config (configs/axial_sd/*.py).')
    arch = get_student_model_cfg(cfg).to_dict()
    distiller = model_cfg['distiller']
    dtype = str(distiller.get('type', '')).split('.')[-1]
    branch = _axial_branch_args(distiller)
    if branch is not None:
        head, axial = branch
    else:
        conn = (distiller.get('connectors', None) or {}).get(connector)
        if not conn or str(conn.get('type', '')).split('.')[-1] != \
                'AxialConnector':
            raise ValueError(
                f'distiller {dtype!r} has no AxialConnector named '
                f'{connector!r}; use AxialSelfDistiller or pass the right '
                '--connector name.')
        head = 'decode_head'
        axial = dict(conn)
    for key in AXIAL_CONNECTOR_ONLY_KEYS:
        axial.pop(key, None)
    return arch, head, axial


def axial_refine_model_cfg(arch: dict, head: str, axial: dict) -> dict:
    """The segmentor config with ``head`` wrapped by ``AxialRefineHead``.

    Args:
        arch: MMSeg segmentor config (the distillation ``architecture``).
        head: ``'decode_head'`` or ``'decode_head.<i>'``.
        axial: ``AxialAttention2d`` kwargs (with ``in_channels``).
    """
    arch = copy.deepcopy(arch)
    parts = head.split('.')
    if parts[0] != 'decode_head' or len(parts) > 2:
        raise ValueError(f'cannot export head {head!r}: only "decode_head" '
                         'and "decode_head.<i>" are supported.')
    if len(parts) == 1:
        base = arch['decode_head']
        arch['decode_head'] = dict(
            type='AxialRefineHead', base_head=base, axial=axial)
    else:
        heads = list(arch['decode_head'])
        idx = int(parts[1])
        heads[idx] = dict(
            type='AxialRefineHead', base_head=heads[idx], axial=axial)
        arch['decode_head'] = heads
    return arch


def convert_axial_state_dict(state_dict: Dict, head: str = 'decode_head',
                             connector: str = 'axial') -> 'OrderedDict':
    """Rename distillation weights for the ``AxialRefineHead`` model.

    Args:
        state_dict: Weights of a ``SelfDistill`` checkpoint.
        head: Dotted head path used in training.
        connector: Name of the axial connector.

    Raises:
        KeyError: No student or no axial connector weights.
    """
    student = extract_student_state_dict(state_dict)
    axial_prefix = f'distiller.connectors.{connector}.axial.'
    axial = select_prefix(state_dict, axial_prefix)
    if not axial:
        raise KeyError(
            f'no "{axial_prefix}*" weights in the checkpoint: it was not '
            'trained with an axial connector of that name (use '
            'AxialSelfDistiller, or pass --connector).')
    out = OrderedDict()
    head_prefix = head + '.'
    for key, value in student.items():
        if key.startswith(head_prefix):
            key = f'{head}.base_head.{key[len(head_prefix):]}'
        out[key] = value
    for key, value in axial.items():
        out[f'{head}.axial.{key}'] = value
    return out


def export_axial_refine(config: Union[str, Config],
                        checkpoint: Union[str, dict],
                        out_checkpoint: str,
                        out_config: Optional[str] = None,
                        connector: str = 'axial') -> Tuple[str, str]:
    """Write the teacher-output model: checkpoint and matching config.

    Args:
        config: Training config (path or :class:`Config`).
        checkpoint: Training checkpoint (path or loaded dict).
        out_checkpoint: Output ``.pth``.
        out_config: Output ``.py`` (default: ``out_checkpoint`` with
            ``.py``).
        connector: Name of the axial connector.

    Returns:
        tuple: ``(out_checkpoint, out_config)``.
    """
    cfg = load_config(config)
    ckpt = load_checkpoint_safely(checkpoint) \
        if isinstance(checkpoint, str) else checkpoint
    state = get_state_dict(ckpt)
    arch, head, axial = _distill_parts(cfg, connector)
    new_state = convert_axial_state_dict(state, head, connector)
    embed = new_state.get(f'{head}.axial.embed.weight')
    if embed is None:
        raise KeyError(f'{head}.axial.embed.weight missing after conversion')
    # the embedding reads the logits, then (axial_input='features') the
    # decoder features entering conv_seg: their width is the context's
    conv_seg = new_state.get(f'{head}.base_head.conv_seg.weight')
    logits = int(embed.shape[1]) if conv_seg is None else int(
        conv_seg.shape[0])
    axial['in_channels'] = logits
    if int(embed.shape[1]) > logits:
        axial['context_channels'] = int(embed.shape[1]) - logits
    model_cfg = axial_refine_model_cfg(arch, head, axial)
    report = compare_keys(new_state, build_segmentor(model_cfg))
    if not report.ok:
        raise ValueError(
            'the converted weights do not fit the AxialRefineHead model built '
            f'from the config ({report.summary()}); pass the config the '
            'checkpoint was trained with.')

    out_cfg = copy.deepcopy(cfg.to_dict())
    out_cfg['model'] = model_cfg
    if 'mmrazor' in str(out_cfg.get('val_cfg', {}).get('type', '')):
        out_cfg['val_cfg'] = dict(type='ValLoop')
    imports = dict(out_cfg.get('custom_imports', None) or {})
    names = list(imports.get('imports', []))
    if 'mmseg_attnkd' not in names:
        names.append('mmseg_attnkd')
    out_cfg['custom_imports'] = dict(
        imports=names, allow_failed_imports=False)
    out_cfg.setdefault('default_scope', 'mmseg')
    out_cfg['load_from'] = None
    out_cfg['resume'] = False

    keep = export_meta(
        ckpt, converted_from='axial self-distillation teacher output')
    out_checkpoint = save_checkpoint_atomic(
        make_plain_checkpoint(new_state, keep), out_checkpoint)
    if out_config is None:
        out_config = osp.splitext(out_checkpoint)[0] + '.py'
    Config(out_cfg).dump(out_config)
    return out_checkpoint, out_config
