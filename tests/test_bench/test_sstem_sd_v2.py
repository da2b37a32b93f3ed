# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""bench/sstem/run.py --sd-v2: the ssTEM study's sd arm as an axial SD v2
candidate of the CamVid study, the other arms (and so their finished
runs) unchanged."""
import copy

import pytest
import torch

import mmseg_attnkd  # noqa: F401
from bench.camvid.arms import V2_ARMS
from bench.sstem import arms as sstem_arms
from bench.sstem import run as sstem_run


def _args(*extra):
    return sstem_run.parse_args(['--width', '4', '--unet-width', '4',
                                 '--crop', '64', *extra])


def test_the_candidates_are_the_camvid_studys():
    assert set(sstem_arms.sd_v2_options()) == {
        name for name, (base, _) in V2_ARMS.items() if base == 'sd'}
    assert {'sd_kl', 'sd_ema', 'sd_features', 'sd_half_ce'} <= set(
        sstem_arms.sd_v2_options())


@pytest.mark.parametrize('arch', ['unet', 'upernet'])
def test_only_the_sd_arm_changes_and_only_at_its_keys(arch):
    plain = _args()
    for name in sstem_arms.sd_v2_options():
        args = _args('--sd-v2', name)
        for arm in ('baseline', 'ce2'):  # their finished runs restore
            assert sstem_arms.arm_model(arch, arm, args) == \
                sstem_arms.arm_model(arch, arm, plain)
        got = sstem_arms.arm_model(arch, 'sd', args)
        want = sstem_arms.arm_model(arch, 'sd', plain)
        for key, value in sstem_arms.sd_v2_options()[name].items():
            node_got, node_want = got, want
            parts = key.split('.')[1:]
            for part in parts[:-1]:
                node_got, node_want = node_got[part], node_want[part]
            assert node_got[parts[-1]] == value  # replaced, not merged
            node_want[parts[-1]] = copy.deepcopy(value)
        assert got == want  # nothing else moved
    kl = sstem_arms.arm_model(arch, 'sd', _args('--sd-v2', 'sd_kl'))
    assert kl['distiller']['mse'] == dict(type='SelfDistillKLLoss', tau=2.0)
    half = sstem_arms.arm_model(arch, 'sd', _args('--sd-v2', 'sd_half_ce'))
    assert half['architecture']['decode_head']['loss_decode'][
        'loss_weight'] == 0.5
    text = sstem_arms.sd_settings_text(_args('--sd-v2', 'sd_kl'))
    # the report names the loss that trained, not the default it replaced
    assert text.startswith('KL with temperature 2, weight 1')
    assert 'MSE' not in text and '--sd-v2 sd_kl' in text


@pytest.mark.parametrize('name', ['sd_features', 'sd_kl'])
def test_a_candidate_trains_on_an_sstem_architecture(name):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    torch.manual_seed(0)
    model = sstem_arms.build(sstem_arms.arm_model(
        'fpn', 'sd', _args('--sd-v2', name)))
    model.train()
    inputs = torch.rand(2, 3, 64, 64)
    samples = []
    for _ in range(2):
        s = SegDataSample(metainfo=dict(img_shape=(64, 64),
                                        pad_shape=(64, 64)))
        s.gt_sem_seg = PixelData(data=torch.randint(0, 5, (1, 64, 64)))
        samples.append(s)
    losses = model.loss(inputs, samples)
    assert {'distill.loss_teacher_ce', 'distill.loss_sd_mse'} <= set(losses)
    total = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(total)
    total.backward()
    block = model.distiller.connectors['axial']
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in block.parameters())


def test_an_unknown_candidate_is_refused():
    with pytest.raises(SystemExit):
        _args('--sd-v2', 'sd_nothing')
    with pytest.raises(ValueError, match='no axial SD v2 candidate'):
        sstem_arms.apply_sd_v2({}, 'sd_nothing')
