# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial self-distillation on heads with several training outputs
(DANet: three maps; EncNet: logits and the SE-loss vector)."""
import pytest
import torch
from mmrazor.registry import MODELS

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.testing import seg_batch, tiny_fcn_cfg

NUM_CLASSES = 4
WIDTH = 4
_NORM = dict(type='BN', requires_grad=True)
_CE = dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)


def _with_head(head):
    cfg = tiny_fcn_cfg(WIDTH, NUM_CLASSES, crop_size=(32, 32))
    cfg['decode_head'] = dict(head, num_classes=NUM_CLASSES,
                              dropout_ratio=0.0, norm_cfg=_NORM,
                              align_corners=False, loss_decode=_CE)
    return cfg


HEADS = {
    # student loss key of the logits that conv_seg produces
    'DAHead': (dict(type='DAHead', in_channels=WIDTH * 8, in_index=3,
                    channels=8, pam_channels=4),
               'student.decode.pam_cam.loss_ce'),
    'EncHead': (dict(type='EncHead', in_channels=[WIDTH * 2, WIDTH * 4,
                                                  WIDTH * 8],
                     in_index=(1, 2, 3), channels=8, num_codes=4,
                     use_se_loss=True, add_lateral=False,
                     loss_se_decode=dict(type='CrossEntropyLoss',
                                         use_sigmoid=True, loss_weight=0.2)),
                'student.decode.loss_ce'),
}


@pytest.mark.parametrize('name', list(HEADS))
def test_axial_sd_trains_on_a_several_output_head(name):
    head, key = HEADS[name]
    torch.manual_seed(0)
    algo = MODELS.build(dict(
        _scope_='mmrazor', type='SegSelfDistill',
        architecture=_with_head(head),
        distiller=dict(type='AxialSelfDistiller',
                       axial=dict(channels=8, num_heads=2))))
    algo.train()
    inputs, samples = seg_batch(algo, NUM_CLASSES, batch_size=2, size=32)
    losses = algo(inputs, samples, mode='loss')
    # zero-initialised axial block: teacher output == the main logits, so
    # its task loss equals the head's loss on that output
    torch.testing.assert_close(losses['distill.loss_teacher_ce'],
                               losses[key])
    assert losses['distill.loss_sd_mse'].item() == 0.0
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    proj = algo.distiller.connectors['axial'].axial.proj
    assert proj.weight.grad is not None and proj.weight.grad.abs().sum() > 0
