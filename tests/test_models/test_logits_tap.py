# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial self-distillation on a head without ``conv_seg`` (Segmenter's mask
transformer): its output is recorded through ``logits_tap``."""
import copy

import torch
from mmrazor.registry import MODELS

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.engine.runner import axial_teacher_output
from mmseg_attnkd.testing import seg_batch, tiny_fcn_cfg

NUM_CLASSES = 4


def tiny_segmenter_cfg():
    cfg = tiny_fcn_cfg(4, NUM_CLASSES, crop_size=(64, 64))
    cfg['backbone'] = dict(
        type='VisionTransformer', img_size=(64, 64), patch_size=8,
        in_channels=3, embed_dims=16, num_layers=2, num_heads=2,
        out_indices=(1, ), final_norm=True, with_cls_token=True,
        interpolate_mode='bicubic')
    cfg['decode_head'] = dict(
        type='SegmenterMaskTransformerHead', in_channels=16, channels=16,
        num_classes=NUM_CLASSES, num_layers=1, num_heads=2, embed_dims=16,
        dropout_ratio=0.0, loss_decode=dict(type='CrossEntropyLoss',
                                            use_sigmoid=False,
                                            loss_weight=1.0))
    return cfg


def _algo():
    torch.manual_seed(0)
    return MODELS.build(dict(
        _scope_='mmrazor', type='SegSelfDistill',
        architecture=tiny_segmenter_cfg(),
        distiller=dict(type='AxialSelfDistiller',
                       axial=dict(channels=8, num_heads=2))))


def test_head_output_is_the_student_logits():
    algo = _algo()
    head = algo.architecture.decode_head
    assert not hasattr(head, 'conv_seg')
    algo.train()
    inputs, samples = seg_batch(algo, NUM_CLASSES, batch_size=2, size=64)
    losses = algo(inputs, samples, mode='loss')
    # zero-initialised axial block: teacher output == the head's logits
    torch.testing.assert_close(losses['distill.loss_teacher_ce'],
                               losses['student.decode.loss_ce'])
    student = algo.distiller.student_output()
    assert student.shape == (2, NUM_CLASSES, 8, 8)  # patch 8 of 64x64
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    assert algo.distiller.connectors['axial'].axial.proj.weight.grad.abs() \
        .sum() > 0


def test_tap_keeps_checkpoint_keys_and_survives_deepcopy():
    from mmseg.registry import MODELS as SEG_MODELS
    plain = SEG_MODELS.build(dict(tiny_segmenter_cfg(), _scope_='mmseg'))
    algo = _algo()
    assert set(algo.architecture.state_dict()) == set(plain.state_dict())
    clone = copy.deepcopy(algo)
    head = clone.architecture.decode_head
    assert head.forward.__self__ is head  # rebound to the copy


def test_teacher_output_inference_goes_through_the_tap():
    algo = _algo()
    torch.nn.init.normal_(algo.distiller.connectors['axial'].axial.proj.weight)
    algo.eval()
    inputs, samples = seg_batch(algo, NUM_CLASSES, batch_size=1, size=64,
                                training=False)
    with torch.no_grad():
        student = algo.architecture(inputs, mode='tensor')
        with axial_teacher_output(algo) as found:
            teacher = algo.architecture(inputs, mode='tensor')
    assert found
    assert student.shape == teacher.shape
    assert not torch.allclose(student, teacher)
