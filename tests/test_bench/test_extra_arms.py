# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The MMRazor-loss arms of the CamVid protocol build and give losses."""
import pytest

from bench.accuracy import arms as acc_arms
from bench.accuracy import run as acc_run
from bench.lib import common
from mmseg_attnkd.testing import seg_batch

TINY = dict(acc_arms.PROTOCOLS['cpu'], crop=(32, 48),
            student=dict(width=8, output_stride=16),
            teacher=dict(width=16, output_stride=8))


@pytest.mark.parametrize('arm', acc_arms.EXTRA_ARMS)
def test_extra_arm_builds_and_computes_its_losses(arm):
    cfg, factor = acc_arms.arm_model(arm, TINY, None, None, {})
    assert factor == 1 and cfg['type'] == 'SegSingleTeacherDistill'
    assert cfg['distiller']['type'] == 'StageDistiller'
    cfg['distiller']['probe_input_size'] = (32, 48)
    model = common.build_model(cfg, seed=0)
    model.train()
    # student maps at 1/16, teacher maps at 1/8: the losses resize
    inputs, samples = seg_batch(model, acc_arms.NUM_CLASSES, 2, 32)
    losses = model(inputs, samples, mode='loss')
    names = [k for k in losses if k.startswith(f'distill.loss_{arm}_')]
    assert len(names) == len(model.distiller.stages)
    assert all(losses[k].isfinite() for k in names)


def test_accuracy_accepts_the_extra_arms(capsys):
    args = acc_run.parse_args(['--arms', 'baseline', *acc_arms.EXTRA_ARMS])
    assert args.arms == ['baseline', *acc_arms.EXTRA_ARMS]
    with pytest.raises(SystemExit, match='2'):
        acc_run.parse_args(['--arms', 'fitnets'])
    assert "error: unknown arms ['fitnets']" in capsys.readouterr().err
