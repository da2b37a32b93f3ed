# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Tiny MMSeg model configs (a few thousand to ~1M parameters) for CPU tests.

They use MMSeg's real classes (ResNetV1c, DepthwiseSeparableASPPHead,
PSPHead, FCNHead, EncoderDecoder) with small widths, plain BN and no
pretrained weights, so a forward/backward at 64x64 takes milliseconds.
Every dict carries ``_scope_='mmseg'`` so it builds both from MMSeg's and
from MMRazor's registry (as a distillation teacher or student).
"""
import copy
from typing import Tuple

_NORM = dict(type='BN', requires_grad=True)


def _preprocessor(crop_size: Tuple[int, int]) -> dict:
    return dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=crop_size)


def _backbone(width: int, depth: int = 18) -> dict:
    return dict(
        type='ResNetV1c',
        depth=depth,
        stem_channels=width,
        base_channels=width,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=_NORM,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True)


def _head_common(num_classes: int, loss_weight: float = 1.0) -> dict:
    """Settings every tiny decode head shares (no dropout, BN, CE)."""
    return dict(
        dropout_ratio=0.0,
        num_classes=num_classes,
        norm_cfg=_NORM,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                         loss_weight=loss_weight))


def _fcn_head(in_channels: int, channels: int, in_index: int,
              num_classes: int, loss_weight: float = 1.0) -> dict:
    """A one-conv ``FCNHead`` (decode head or auxiliary head)."""
    return dict(type='FCNHead', in_channels=in_channels, in_index=in_index,
                channels=channels, num_convs=1, concat_input=False,
                **_head_common(num_classes, loss_weight))


def _aux_head(in_channels: int, num_classes: int) -> dict:
    return _fcn_head(in_channels, max(in_channels // 4, 4), 2, num_classes,
                     loss_weight=0.4)


def _wrap(backbone: dict, decode_head: dict, crop_size, aux: dict = None):
    model = dict(
        _scope_='mmseg',
        type='EncoderDecoder',
        data_preprocessor=_preprocessor(crop_size),
        pretrained=None,
        backbone=backbone,
        decode_head=decode_head,
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))
    if aux is not None:
        model['auxiliary_head'] = aux
    return copy.deepcopy(model)


def _on_last_stage(head: dict, width: int, num_classes: int,
                   crop_size: Tuple[int, int] = (64, 64),
                   with_aux: bool = False) -> dict:
    """``head`` on the last stage (``width * 8`` channels, output stride 8)
    of :func:`_backbone`, ``2 * width`` channels; with ``with_aux`` an FCN
    auxiliary head on stage 3."""
    head = dict(head, in_channels=width * 8, in_index=3, channels=width * 2,
                **_head_common(num_classes))
    aux = _aux_head(width * 4, num_classes) if with_aux else None
    return _wrap(_backbone(width), head, crop_size, aux)


def tiny_deeplabv3plus_cfg(width: int = 8,
                           num_classes: int = 4,
                           crop_size: Tuple[int, int] = (64, 64),
                           with_aux: bool = False) -> dict:
    """DeepLabV3+ (ResNetV1c-18 layout, ``width`` stem/base channels).

    Stage channels are ``width * (1, 2, 4, 8)``; ASPP and decoder have
    ``2 * width`` channels. ``width=8`` is a "student", ``width=16`` a
    "teacher" with twice the channels in every stage.
    """
    head = dict(type='DepthwiseSeparableASPPHead', dilations=(1, 2, 3, 4),
                c1_in_channels=width, c1_channels=max(width // 2, 2))
    return _on_last_stage(head, width, num_classes, crop_size, with_aux)


def tiny_pspnet_cfg(width: int = 8, num_classes: int = 4, **kwargs) -> dict:
    """PSPNet on a tiny ResNetV1c-18; ``crop_size`` and ``with_aux`` as in
    :func:`tiny_deeplabv3plus_cfg`."""
    return _on_last_stage(dict(type='PSPHead', pool_scales=(1, 2, 3, 6)),
                          width, num_classes, **kwargs)


def tiny_fcn_cfg(width: int = 8,
                 num_classes: int = 4,
                 crop_size: Tuple[int, int] = (64, 64)) -> dict:
    """FCN head on a tiny ResNetV1c-18 (see :func:`tiny_deeplabv3plus_cfg`)."""
    head = _fcn_head(width * 8, width * 2, 3, num_classes)
    return _wrap(_backbone(width), head, crop_size)


def tiny_runtime_cfg(work_dir: str,
                     max_iters: int = 4,
                     val_interval: int = 2,
                     checkpoint_interval: int = 2,
                     lr: float = 0.01,
                     distill: bool = False) -> dict:
    """Schedule/runtime pieces for a short CPU run (iteration based).

    Args:
        work_dir: Runner work dir.
        max_iters: Total training iterations.
        val_interval: Validate every this many iterations.
        checkpoint_interval: Save a checkpoint every this many iterations.
        lr: SGD learning rate.
        distill: Use MMRazor's ``SingleTeacherDistillValLoop`` (evaluates
            the student and the teacher) instead of MMEngine's ``ValLoop``.
    """
    return dict(
        work_dir=work_dir,
        default_scope='mmseg',
        env_cfg=dict(
            cudnn_benchmark=False,
            mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
            dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0, deterministic=False),
        log_level='INFO',
        log_processor=dict(by_epoch=False),
        load_from=None,
        resume=False,
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=lr, momentum=0.9,
                           weight_decay=0.0005),
            clip_grad=None),
        param_scheduler=[
            dict(type='PolyLR', eta_min=1e-4, power=0.9, begin=0,
                 end=max_iters, by_epoch=False)
        ],
        train_cfg=dict(
            type='IterBasedTrainLoop', max_iters=max_iters,
            val_interval=val_interval),
        val_cfg=dict(type='mmrazor.SingleTeacherDistillValLoop')
        if distill else dict(type='ValLoop'),
        test_cfg=dict(type='TestLoop'),
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=1,
                        log_metric_by_epoch=False),
            param_scheduler=dict(type='ParamSchedulerHook'),
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=checkpoint_interval),
            sampler_seed=dict(type='DistSamplerSeedHook'),
            visualization=dict(type='SegVisualizationHook')),
        vis_backends=[dict(type='LocalVisBackend')],
        visualizer=dict(type='SegLocalVisualizer',
                        vis_backends=[dict(type='LocalVisBackend')],
                        # one visualizer per run: MMEngine reuses an
                        # instance by name, which in a process running
                        # several runners would send scalars to the first
                        # run's vis_data folder
                        name=f'visualizer:{work_dir}'))


def _pyramid_backbone(width: int) -> dict:
    """ResNetV1c-18 layout with output strides 4, 8, 16, 32."""
    backbone = _backbone(width)
    backbone.update(dilations=(1, 1, 1, 1), strides=(1, 2, 2, 2))
    return backbone


def tiny_deeplabv3_cfg(width: int = 8, num_classes: int = 4,
                       **kwargs) -> dict:
    """DeepLabV3 (``ASPPHead``) on a tiny ResNetV1c-18 (output stride 8);
    ``crop_size`` and ``with_aux`` as in :func:`tiny_deeplabv3plus_cfg`."""
    return _on_last_stage(dict(type='ASPPHead', dilations=(1, 2, 3, 4)),
                          width, num_classes, **kwargs)


def tiny_fpn_cfg(width: int = 8,
                 num_classes: int = 4,
                 crop_size: Tuple[int, int] = (64, 64)) -> dict:
    """Semantic FPN (``FPN`` neck + ``FPNHead``, output stride 4)."""
    chans = [width, width * 2, width * 4, width * 8]
    head = dict(
        type='FPNHead',
        in_channels=[width * 2] * 4,
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=width * 2,
        **_head_common(num_classes))
    model = _wrap(_pyramid_backbone(width), head, crop_size)
    model['neck'] = dict(
        type='FPN', in_channels=chans, out_channels=width * 2, num_outs=4)
    return model


def tiny_upernet_cfg(width: int = 8, num_classes: int = 4,
                     crop_size: Tuple[int, int] = (64, 64),
                     with_aux: bool = False) -> dict:
    """UPerNet (``UPerHead``, output stride 4) on a tiny ResNetV1c-18."""
    head = dict(
        type='UPerHead',
        in_channels=[width, width * 2, width * 4, width * 8],
        in_index=[0, 1, 2, 3],
        pool_scales=(1, 2, 3, 6),
        channels=width * 2,
        **_head_common(num_classes))
    return _wrap(_pyramid_backbone(width), head, crop_size,
                 _aux_head(width * 4, num_classes) if with_aux else None)


def tiny_unet_fcn_cfg(width: int = 8,
                      num_classes: int = 4,
                      crop_size: Tuple[int, int] = (64, 64),
                      with_aux: bool = False) -> dict:
    """UNet backbone (3 stages) with an ``FCNHead`` at output stride 1."""
    backbone = dict(
        type='UNet',
        in_channels=3,
        base_channels=width,
        num_stages=3,
        strides=(1, 1, 1),
        enc_num_convs=(2, 2, 2),
        dec_num_convs=(2, 2),
        downsamples=(True, True),
        enc_dilations=(1, 1, 1),
        dec_dilations=(1, 1),
        norm_cfg=_NORM,
        act_cfg=dict(type='ReLU'),
        upsample_cfg=dict(type='InterpConv'),
        norm_eval=False)
    head = _fcn_head(width, width, 2, num_classes)
    aux = None
    if with_aux:
        aux = _aux_head(width * 2, num_classes)
        aux['in_index'] = 1
    return _wrap(backbone, head, crop_size, aux)


def tiny_segformer_cfg(embed_dims: int = 8,
                       num_classes: int = 4,
                       crop_size: Tuple[int, int] = (64, 64)) -> dict:
    """SegFormer: a MiT backbone with one layer per stage (which computes
    channels-last maps) and a ``SegformerHead``."""
    backbone = dict(
        type='MixVisionTransformer', in_channels=3, embed_dims=embed_dims,
        num_stages=4, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 4, 8],
        patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3), mlp_ratio=2, qkv_bias=True, drop_rate=0.0,
        attn_drop_rate=0.0, drop_path_rate=0.0)
    head = dict(type='SegformerHead',
                in_channels=[embed_dims * k for k in (1, 2, 4, 8)],
                in_index=[0, 1, 2, 3], channels=16,
                **_head_common(num_classes))
    return _wrap(backbone, head, crop_size)


def tiny_pidnet_cfg(channels: int = 8,
                    num_classes: int = 4,
                    crop_size: Tuple[int, int] = (64, 64)) -> dict:
    """PIDNet (a backbone whose output is a tuple in training and one
    tensor in eval) with its ``PIDHead`` and OHEM and boundary losses."""
    act = dict(type='ReLU', inplace=True)
    ohem = dict(type='OhemCrossEntropy', thres=0.9, min_kept=64,
                loss_weight=1.0)
    backbone = dict(type='PIDNet', in_channels=3, channels=channels,
                    ppm_channels=16, num_stem_blocks=1, num_branch_blocks=1,
                    align_corners=False, norm_cfg=_NORM, act_cfg=act)
    head = dict(type='PIDHead', in_channels=channels * 4, channels=16,
                num_classes=num_classes, norm_cfg=_NORM, act_cfg=act,
                align_corners=True,
                loss_decode=[
                    dict(type='CrossEntropyLoss', use_sigmoid=False,
                         loss_weight=0.4), ohem,
                    dict(type='BoundaryLoss', loss_weight=20.0), ohem
                ])
    return _wrap(backbone, head, crop_size)
