# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""StageDistiller: components from the registry, channels from the probe."""
import pytest
import torch
from mmrazor.models.distillers import OFDDistiller
from mmrazor.registry import MODELS

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.connectors import (OFDMarginConnector,
                                            PixelSamplesConnector, bn_margin)
from mmseg_attnkd.models.distillers import (AttnFDAxialDistiller,
                                            AttnFDDistiller, AxialBranchMixin,
                                            AxialSelfDistiller,
                                            StageDistiller, closest_names_hint,
                                            record_sides, with_channels)
from mmseg_attnkd.models.losses import ResizedStudentLoss
from mmseg_attnkd.testing import seg_batch, tiny_deeplabv3plus_cfg
from mmseg_attnkd.utils.export.axial import _axial_branch_args

NUM_CLASSES = 4
CONV_BN = dict(type='ConvModuleConnector', kernel_size=1,
               norm_cfg=dict(type='BN'), act_cfg=None)


def build(**distiller):
    torch.manual_seed(0)
    return MODELS.build(dict(
        _scope_='mmrazor', type='SegSingleTeacherDistill',
        architecture=tiny_deeplabv3plus_cfg(8, NUM_CLASSES),
        teacher=tiny_deeplabv3plus_cfg(16, NUM_CLASSES),
        distiller=dict(type='StageDistiller', probe_input_size=(32, 32),
                       **distiller)))


def test_channels_filled_under_each_connector_naming():
    # in_channel/out_channel, student_channels/teacher_channels, channels
    assert with_channels(dict(type='ConvModuleConnector'), 8, 8, 16) == dict(
        type='ConvModuleConnector', in_channel=8, out_channel=16)
    assert with_channels(dict(type='MGDConnector'), 8, 8, 16) == dict(
        type='MGDConnector', student_channels=8, teacher_channels=16)
    assert with_channels(dict(type='TeacherCBAMConnector'), 16, 8,
                         16)['channels'] == 16
    # a value given in the config wins
    assert with_channels(dict(type='CBAMConnector', out_channels=3), 8, 8,
                         16)['out_channels'] == 3


def test_stages_connectors_and_loss_inputs_by_name():
    algo = build(stages=['backbone.layer4', 'decode_head.conv_seg'],
                 student_connector=CONV_BN,
                 loss=[dict(type='PKDLoss'), dict(type='DISTLoss')])
    d = algo.distiller
    assert [(s['student_channels'], s['teacher_channels'])
            for s in d.stages] == [(64, 128), (NUM_CLASSES, NUM_CLASSES)]
    conv = d.connectors['pkd_0_student'].conv_module.conv
    assert (conv.in_channels, conv.out_channels) == (64, 128)
    assert 'pkd_0_teacher' not in d.connectors
    # the loss's own first two forward arguments receive the records
    assert set(d.loss_forward_mappings['loss_pkd_0']) == {'preds_S',
                                                          'preds_T'}
    assert set(d.loss_forward_mappings['loss_pkd_1']) == {'logits_S',
                                                          'logits_T'}
    algo.train()
    inputs, samples = seg_batch(algo, NUM_CLASSES, 2, 32)
    losses = algo(inputs, samples, mode='loss')
    assert {'distill.loss_pkd_0', 'distill.loss_pkd_1'} <= set(losses)
    sum(v for k, v in losses.items() if k.startswith('distill')).backward()
    assert d.connectors['pkd_0_student'].conv_module.conv.weight.grad \
        is not None


def test_clear_errors():
    with pytest.raises(ValueError, match='needs a loss config'):
        build(stages=['backbone.layer4'])
    with pytest.raises(ValueError, match='2 configs for 1 stages'):
        build(stages=['backbone.layer4'],
              loss=[dict(type='ATLoss'), dict(type='ATLoss')])
    with pytest.raises(ValueError, match=r"Closest names: \['backbone"):
        build(stages=['backbone.layer5'], loss=dict(type='ATLoss'))
    with pytest.raises(KeyError, match='NoSuchConnector'):
        build(stages=['backbone.layer4'], loss=dict(type='ATLoss'),
              student_connector=dict(type='NoSuchConnector'))
    with pytest.raises(ValueError, match='ConfigurableDistiller'):
        build(loss=dict(type='ATLoss'), connectors=dict())


def test_one_name_hint_everywhere():
    names = ['backbone', 'backbone.layer1', 'decode_head',
             'decode_head.conv_seg']
    assert closest_names_hint('decode_head.conv_sag', names).startswith(
        "Closest names: ['decode_head.conv_seg'")
    assert closest_names_hint('zzz', names) == \
        "Top-level names: ['backbone', 'decode_head']."


def test_probe_records_like_the_recorders_and_leaves_no_hook():
    from mmseg.registry import MODELS as SEG
    model = SEG.build(tiny_deeplabv3plus_cfg(8, NUM_CLASSES))
    hooks = dict(model.decode_head.conv_seg._forward_hooks)
    model.train()
    feats, inputs = record_sides(model, [
        dict(name='backbone'), dict(name='decode_head.conv_seg',
                                    record='inputs')], (32, 32), 2)
    assert [tuple(f.shape) for f in feats] == [(2, 8, 8, 8), (2, 16, 4, 4),
                                               (2, 32, 4, 4), (2, 64, 4, 4)]
    assert isinstance(inputs, tuple) and inputs[0].shape == (2, 16, 8, 8)
    assert dict(model.decode_head.conv_seg._forward_hooks) == hooks
    assert model.training and model.backbone.training


def test_ofd_margin_is_mmrazors_and_set_at_build():
    bn = torch.nn.BatchNorm2d(5)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1., .5, -2., .1, 3.]))
        bn.bias.copy_(torch.tensor([0., 1., -1., 2., -5.]))
    torch.testing.assert_close(bn_margin(bn),
                               OFDDistiller._get_margin_from_BN(None, bn))
    algo = build(stages=['decode_head.bottleneck.bn'],
                 student_connector=CONV_BN,
                 teacher_connector=dict(type='OFDMarginConnector'),
                 loss=dict(type='OFDLoss'))
    conn = algo.distiller.connectors['ofd_0_teacher']
    assert isinstance(conn, OFDMarginConnector)
    assert conn.margin.shape == (1, 32, 1, 1)
    with pytest.raises(TypeError, match='BatchNorm'):
        build(stages=['backbone.layer4'], student_connector=CONV_BN,
              teacher_connector=dict(type='OFDMarginConnector'),
              loss=dict(type='OFDLoss'))


def test_pixel_samples_and_resized_student_loss():
    x = torch.randn(2, 3, 4, 5)
    flat = PixelSamplesConnector()(x)
    assert flat.shape == (40, 3)
    torch.testing.assert_close(flat[7], x[0, :, 1, 2])
    loss = ResizedStudentLoss(dict(type='ATLoss'))
    s = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 5, 8, 8)
    loss(s, t).backward()
    assert s.grad is not None


def test_attnfd_is_a_stage_distiller_preset():
    assert issubclass(AttnFDDistiller, StageDistiller)
    for cls in (AxialSelfDistiller, AttnFDAxialDistiller):
        assert issubclass(cls, AxialBranchMixin)


@MODELS.register_module()
class _RenamedAxialDistiller(AxialSelfDistiller):
    """A distiller the export has never heard of."""


def test_axial_export_reads_the_config_structure():
    assert _axial_branch_args(dict(type='AxialSelfDistiller')) == (
        'decode_head', {})
    assert _axial_branch_args(dict(
        type='mmrazor.AttnFDAxialDistiller', head='decode_head.1',
        axial=dict(span=8))) == ('decode_head.1', dict(span=8))
    assert _axial_branch_args(dict(type='_RenamedAxialDistiller',
                                   axial=dict(channels=4))) == (
        'decode_head', dict(channels=4))
    # the branch arguments are AxialBranchMixin's (read through the MRO)
    assert _axial_branch_args(dict(type='AttnFDAxialDistiller')) == (
        'decode_head', {})
    assert _axial_branch_args(dict(type='AttnFDDistiller')) is None
    assert _axial_branch_args(dict(type='ConfigurableDistiller')) is None


def _logit_stage(loss):
    from mmseg_attnkd.testing import tiny_fcn_cfg
    return MODELS.build(dict(
        _scope_='mmrazor', type='SegSingleTeacherDistill',
        architecture=tiny_fcn_cfg(4, 4),  # logits at output stride 8
        teacher=tiny_deeplabv3plus_cfg(8, 4),  # output stride 4
        distiller=dict(type='StageDistiller',
                       stages=['decode_head.conv_seg'], loss=loss)))


def test_maps_of_different_sizes_are_refused_for_a_loss_that_needs_one():
    with pytest.raises(ValueError) as info:
        _logit_stage(dict(type='ChannelWiseDivergence', tau=1,
                          loss_weight=5))
    message = str(info.value)
    assert '8x8 student map and a 16x16 teacher map' in message
    assert 'ChannelWiseDivergence cannot compare' in message
    assert 'student_connector' in message and '\n' not in message


def test_a_loss_that_resizes_itself_keeps_different_sizes():
    algo = _logit_stage(dict(type='PKDLoss', loss_weight=1.0))
    algo.train()
    inputs, samples = seg_batch(algo, 4, batch_size=2, size=64)
    losses = algo(inputs, samples, mode='loss')
    assert torch.isfinite(losses['distill.loss_pkd_0'])
