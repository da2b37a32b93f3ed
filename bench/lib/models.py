# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Benchmark models as config dicts.

* DeepLabV3+ ResNetV1c-18/50/101-d8 from MMSeg's own base config
  (:func:`deeplabv3plus_cfg`) and the width-reduced ResNetV1c-18 layout of
  the CamVid protocols (:func:`deeplabv3plus_width_cfg`); BN instead of
  SyncBN, no pretrained weights;
* distillation model configs of every arm (KD, CWD, AttnFD, axial SD).
"""
import copy
import os.path as osp
from typing import Optional, Tuple


def mmseg_base(rel: str):
    """A config of MMSeg's own ``configs/`` (``rel`` below it)."""
    from mmengine.config import Config
    from mmengine.utils import get_installed_path
    path = osp.join(get_installed_path('mmseg'), '.mim', 'configs', rel)
    return Config.fromfile(path)


def with_bn(node):
    """SyncBN -> BN everywhere (CPU and single-GPU runs)."""
    from mmseg_attnkd.utils import replace_sync_bn
    return replace_sync_bn(node)


def deeplabv3plus_cfg(depth: int,
                      num_classes: int,
                      crop_size: Tuple[int, int],
                      with_aux: bool = True) -> dict:
    """MMSeg DeepLabV3+ ResNetV1c-``depth``-d8, from scratch, BN.

    ``depth`` 50/101 use MMSeg's ``deeplabv3plus_r50-d8`` base as is (101
    only changes the depth); 18 applies the overrides of MMSeg's
    ``deeplabv3plus_r18-d8`` configs (512-channel input, 128-channel head,
    12-channel low-level branch).

    Args:
        depth: 18, 50 or 101.
        num_classes: Classes of the decode/auxiliary heads.
        crop_size: ``(H, W)`` padded by the data preprocessor.
        with_aux: Keep MMSeg's FCN auxiliary head (weight 0.4).
    """
    model = mmseg_base('_base_/models/deeplabv3plus_r50-d8.py').model
    model = copy.deepcopy(model.to_dict())
    model['_scope_'] = 'mmseg'
    model['pretrained'] = None
    model['backbone']['depth'] = depth
    model['data_preprocessor']['size'] = tuple(crop_size)
    model['decode_head']['num_classes'] = num_classes
    model['auxiliary_head']['num_classes'] = num_classes
    if depth == 18:
        model['decode_head'].update(
            c1_in_channels=64, c1_channels=12, in_channels=512, channels=128)
        model['auxiliary_head'].update(in_channels=256, channels=64)
    elif depth not in (50, 101):
        raise ValueError(f'depth must be 18, 50 or 101, got {depth}')
    if not with_aux:
        model.pop('auxiliary_head')
    return with_bn(model)


STUDENT_DEPTH = 18


def deeplabv3plus_width_cfg(width: int,
                            num_classes: int,
                            crop_size: Tuple[int, int],
                            output_stride: int = 16) -> dict:
    """MMSeg DeepLabV3+ with a ResNetV1c-18 layout of ``width`` base channels.

    Stage channels are ``width * (1, 2, 4, 8)`` (``width=64`` is MMSeg's
    R18), ASPP ``2 * width`` channels, low-level branch ``width // 2``; the
    FCN auxiliary head (weight 0.4) on stage 3. ``output_stride`` 16 dilates
    the last stage, 8 the last two (MMSeg's ``-d8`` layout). From scratch,
    BN.

    Args:
        width: Base channels (8, 16, 32, 64, ...).
        num_classes: Classes of both heads.
        crop_size: ``(H, W)`` padded by the data preprocessor.
        output_stride: 16 or 8.
    """
    if output_stride == 16:
        dilations, strides = (1, 1, 1, 2), (1, 2, 2, 1)
    elif output_stride == 8:
        dilations, strides = (1, 1, 2, 4), (1, 2, 1, 1)
    else:
        raise ValueError(f'output_stride must be 8 or 16, got {output_stride}')
    norm_cfg = dict(type='BN', requires_grad=True)
    head = dict(num_classes=num_classes, norm_cfg=norm_cfg,
                align_corners=False, dropout_ratio=0.1)
    return dict(
        _scope_='mmseg',
        type='EncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
            seg_pad_val=255, size=tuple(crop_size)),
        pretrained=None,
        backbone=dict(
            type='ResNetV1c', depth=18, stem_channels=width,
            base_channels=width, num_stages=4, out_indices=(0, 1, 2, 3),
            dilations=dilations, strides=strides, norm_cfg=norm_cfg,
            norm_eval=False, style='pytorch', contract_dilation=True),
        decode_head=dict(
            type='DepthwiseSeparableASPPHead', in_channels=width * 8,
            in_index=3, channels=width * 2, dilations=(1, 6, 12, 18),
            c1_in_channels=width, c1_channels=max(width // 2, 4),
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=1.0), **head),
        auxiliary_head=dict(
            type='FCNHead', in_channels=width * 4, in_index=2,
            channels=width, num_convs=1, concat_input=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=0.4), **head),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


def cwd_distiller() -> dict:
    """MMRazor's CWD recipe: ChannelWiseDivergence on conv_seg, tau 1, w 5."""
    from mmseg_attnkd.testing import cwd_distiller
    return cwd_distiller()


def kd_distiller(num_classes: int, tau: float = 1.0,
                 loss_weight: float = 1.0) -> dict:
    """Logit KD: MMRazor ``KLDivergence`` on conv_seg logits, per pixel.

    ``KLDivergence(reduction='mean')`` averages over ``N*C*H*W`` elements;
    scaling by ``C`` makes it the per-pixel KL divergence averaged over
    pixels (``batchmean`` would sum over pixels and grow with resolution).
    tau 1 and weight 1 are MMRazor's defaults for this loss.
    """
    return _logit_distiller(
        dict(type='KLDivergence', tau=tau,
             loss_weight=loss_weight * num_classes, reduction='mean'),
        'loss_kd')


def _logit_distiller(loss: dict, name: str) -> dict:
    from mmseg_attnkd.testing import logit_distiller
    return logit_distiller(loss, name)


def attnfd_distiller(teacher_attention: str = 'random',
                     normalize: str = 'tensor',
                     loss_weight: float = 8.0) -> dict:
    """AttnFD with the package defaults (stages 'auto'), except a seeded
    random teacher attention in place of a fitted file (same compute)."""
    return dict(type='AttnFDDistiller', stages='auto',
                teacher_attention=teacher_attention, normalize=normalize,
                loss_weight=loss_weight)


def attnfd_axial_distiller(teacher_attention: str = 'random',
                           normalize: str = 'tensor',
                           loss_weight: float = 8.0) -> dict:
    """AttnFD (package defaults) plus axial self-distillation (defaults)."""
    return dict(
        attnfd_distiller(teacher_attention, normalize, loss_weight),
        type='AttnFDAxialDistiller')


def teacher_distill_cfg(student: dict, teacher: dict, distiller: dict,
                        teacher_ckpt: Optional[str] = None) -> dict:
    return dict(
        _scope_='mmrazor',
        type='SegSingleTeacherDistill',
        architecture=copy.deepcopy(student),
        teacher=copy.deepcopy(teacher),
        teacher_ckpt=teacher_ckpt,
        distiller=copy.deepcopy(distiller))


def axial_sd_cfg(student: dict, axial: Optional[dict] = None) -> dict:
    """``SelfDistill`` + ``AxialSelfDistiller`` with the package defaults."""
    distiller = dict(type='AxialSelfDistiller')
    if axial:
        distiller['axial'] = dict(axial)
    return dict(_scope_='mmrazor', type='SelfDistill',
                architecture=copy.deepcopy(student), distiller=distiller)
