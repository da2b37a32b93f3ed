# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Complete runner configs for short CPU runs (tests, fallback demo), and
MMRazor's logit-distillation recipes (tests and benchmarks)."""
import copy
import os.path as osp
from typing import Optional, Tuple

from mmengine.config import Config

from .synthetic import synthetic_dataset_cfg
from .tiny_models import tiny_deeplabv3plus_cfg, tiny_runtime_cfg


def logit_distiller(loss: dict, name: str,
                    source: str = 'decode_head.conv_seg') -> dict:
    """A ``ConfigurableDistiller`` applying ``loss`` to the logits of
    ``source`` in student and teacher (``preds_S``/``preds_T``).

    Args:
        loss: The MMRazor loss config, e.g. ``ChannelWiseDivergence``.
        name: Its name in the losses (``loss_cwd`` is logged as
            ``distill.loss_cwd``).
        source: The module whose outputs are the logits.
    """
    rec = dict(logits=dict(type='ModuleOutputs', source=source))
    return dict(
        type='ConfigurableDistiller',
        student_recorders=copy.deepcopy(rec),
        teacher_recorders=copy.deepcopy(rec),
        distill_losses={name: loss},
        loss_forward_mappings={
            name: dict(
                preds_S=dict(from_student=True, recorder='logits'),
                preds_T=dict(from_student=False, recorder='logits'))
        })


def cwd_distiller() -> dict:
    """MMRazor's CWD recipe (``cwd_logits_pspnet_r101_d8_pspnet_r18_d8_
    512x1024_cityscapes_80k``): ``ChannelWiseDivergence`` on
    ``decode_head.conv_seg`` logits, tau 1, weight 5."""
    return logit_distiller(
        dict(type='ChannelWiseDivergence', tau=1, loss_weight=5), 'loss_cwd')


def tiny_teacher_distill_cfg(distiller: dict,
                              num_classes: int = 4,
                              crop_size: Tuple[int, int] = (64, 64),
                              teacher_ckpt: Optional[str] = None,
                              algorithm: str = 'SingleTeacherDistill') -> dict:
    """An MMRazor single-teacher distillation (``algorithm``) of a tiny
    width-8 DeepLabV3+ student from a width-16 teacher by ``distiller``."""
    return dict(
        _scope_='mmrazor',
        type=algorithm,
        architecture=tiny_deeplabv3plus_cfg(8, num_classes, crop_size),
        teacher=tiny_deeplabv3plus_cfg(16, num_classes, crop_size),
        teacher_ckpt=teacher_ckpt,
        distiller=distiller)


def cwd_distill_cfg(data_root: str,
                    work_dir: str,
                    max_iters: int = 4,
                    val_interval: int = 2,
                    checkpoint_interval: int = 2,
                    num_classes: int = 4,
                    crop_size: Tuple[int, int] = (64, 64),
                    teacher_ckpt: Optional[str] = None) -> dict:
    """MMRazor's stock CWD distillation (:func:`cwd_distiller`) between two
    tiny DeepLabV3+ models: a width-16 teacher and a width-8 student."""
    cfg = dict(
        custom_imports=dict(imports=['mmseg_attnkd'],
                            allow_failed_imports=False),
        model=tiny_teacher_distill_cfg(cwd_distiller(), num_classes,
                                       crop_size, teacher_ckpt),
        find_unused_parameters=True)
    cfg.update(tiny_runtime_cfg(work_dir, max_iters, val_interval,
                                checkpoint_interval, distill=True))
    cfg.update(synthetic_dataset_cfg(data_root, num_classes,
                                     crop_size=crop_size))
    return cfg


def write_config(cfg: dict, filename: str) -> str:
    """Dump a config dict to a ``.py`` file that ``Config.fromfile`` reads."""
    Config(cfg).dump(filename)
    assert osp.isfile(filename)
    return filename
