# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The axial block's memory guard: an estimate from the logits' shape before
the first attention, a stride that fits the budget, or a one-line refusal."""
import logging
import os

import pytest
import torch
from mmengine.logging import MMLogger
from mmrazor.registry import MODELS

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.attention import (axial_train_bytes,
                                           smallest_fitting_stride)
from mmseg_attnkd.models.connectors import (AxialConnector,
                                            default_memory_budget,
                                            device_memory_bytes)
from mmseg_attnkd.testing import seg_batch, tiny_unet_fcn_cfg

GIB = 1024.0**3
SHAPE = (2, 4, 64, 64)
AXIAL = dict(channels=8, num_heads=2, span=16)


def test_estimate_covers_the_attention_and_shrinks_with_stride():
    n, _, h, w = SHAPE
    full = axial_train_bytes(SHAPE, 8, 2, stride=1)
    # at least the saved attention of both axes (float32)
    assert full >= 4 * n * 2 * h * w * (h + w)
    by_stride = [axial_train_bytes(SHAPE, 8, 2, stride=s) for s in (1, 2, 4)]
    assert by_stride[0] > by_stride[1] > by_stride[2]
    assert axial_train_bytes(SHAPE, 8, 2, bytes_per_element=2) * 2 == full
    # ERFNet's stock crop: the height axis alone is 16 GiB at stride 1
    erfnet = axial_train_bytes((2, 19, 512, 1024), 64, 8)
    assert erfnet > 16 * GIB
    assert smallest_fitting_stride((2, 19, 512, 1024), 64, 8, 4 * GIB) == 4
    assert smallest_fitting_stride(SHAPE, 8, 2, 1.0) is None


def test_default_budget_is_a_quarter_of_the_device():
    cpu = torch.device('cpu')
    ram = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    assert 0 < device_memory_bytes(cpu) <= ram
    assert default_memory_budget(cpu) == 0.25 * device_memory_bytes(cpu)


@pytest.fixture
def mm_warnings(caplog):
    logger = MMLogger.get_current_instance()
    logger.addHandler(caplog.handler)
    try:
        yield lambda: [r.getMessage() for r in caplog.records
                       if r.levelno >= logging.WARNING and
                       'AxialConnector' in r.getMessage()]
    finally:
        logger.removeHandler(caplog.handler)


def _budget_gb(stride):
    """A budget that stride fits and stride - 1 does not."""
    return (axial_train_bytes(SHAPE, 8, 2, stride) + 1) / GIB


def test_unset_stride_becomes_the_smallest_that_fits_logged_once(mm_warnings):
    conn = AxialConnector(in_channels=4, memory_budget_gb=_budget_gb(2),
                          **AXIAL)
    x = torch.randn(*SHAPE, requires_grad=True)
    conn.train()
    out = conn(x)
    assert conn.axial.stride == 2 and out.shape == x.shape
    out.sum().backward()
    conn(x)
    warned = mm_warnings()
    assert len(warned) == 1, warned
    assert 'stride=2' in warned[0] and 'memory_budget_gb' in warned[0]
    # eval / no-grad forwards are never checked
    small = AxialConnector(in_channels=4, memory_budget_gb=1e-6, **AXIAL)
    with torch.no_grad():
        small(x)
    small.eval()
    small(x)
    assert small.axial.stride == 1


def test_configured_stride_over_budget_is_refused_in_one_line():
    conn = AxialConnector(in_channels=4, memory_budget_gb=_budget_gb(4),
                          stride=1, **AXIAL)
    conn.train()
    with pytest.raises(ValueError) as info:
        conn(torch.randn(*SHAPE))
    message = str(info.value)
    assert 'at stride=1' in message and 'GiB' in message
    assert 'distiller.axial.stride=4' in message
    assert 'memory_budget_gb' in message and '\n' not in message
    with pytest.raises(ValueError, match='no stride fits'):
        AxialConnector(in_channels=4, memory_budget_gb=1e-6, **AXIAL).train()(
            torch.randn(*SHAPE))


def test_bad_budget_is_refused():
    with pytest.raises(ValueError, match='memory_budget_gb must be'):
        AxialConnector(in_channels=4, memory_budget_gb=0, **AXIAL)


def test_full_resolution_student_trains_with_a_small_budget():
    """UNet logits at output stride 1, wrapped in axial SD with a budget
    below what stride 1 needs: the first step picks a stride and trains."""
    arch = tiny_unet_fcn_cfg(4, 4, crop_size=(64, 64))
    budget = axial_train_bytes((2, 4, 64, 64), 8, 2, 2) / GIB
    algo = MODELS.build(dict(
        _scope_='mmrazor', type='SegSelfDistill', architecture=arch,
        distiller=dict(type='AxialSelfDistiller',
                       axial=dict(AXIAL, memory_budget_gb=budget))))
    algo.train()
    inputs, samples = seg_batch(algo, 4, batch_size=2, size=64)
    losses = algo(inputs, samples, mode='loss')
    assert algo.distiller.connectors['axial'].axial.stride == 2
    sum(v for k, v in losses.items() if 'loss' in k).backward()


_MEASURE = '''
import torch
import mmseg_attnkd
from mmseg_attnkd.models.attention import AxialAttention2d


def status(key):  # kB in /proc/self/status
    with open('/proc/self/status') as f:
        line = next(x for x in f if x.startswith(key + ':'))
    return int(line.split()[1]) * 1024


torch.manual_seed(0)
block = AxialAttention2d(4, channels=16, num_heads=2, span=64)
block(torch.randn(1, 4, 8, 8)).sum().backward()  # load the kernels
x = torch.randn(2, 4, 128, 128, requires_grad=True)
try:
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # reset the peak RSS (VmHWM) to the current RSS
except OSError:
    print('unsupported')
    raise SystemExit(0)
base = status('VmRSS')
block(x).sum().backward()
print(status('VmHWM') - base)
'''


def test_estimate_matches_the_measured_peak(subprocess_env):
    """Peak RSS growth of one forward + backward on CPU, in a fresh
    process (peak reset just before), against the estimate."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, '-c', _MEASURE], check=True,
                         capture_output=True, text=True, env=subprocess_env,
                         timeout=120)
    last = out.stdout.strip().splitlines()[-1]
    if last == 'unsupported':
        pytest.skip('this kernel cannot reset the peak RSS (clear_refs)')
    measured = int(last)
    estimate = axial_train_bytes((2, 4, 128, 128), 16, 2)
    assert 0.7 * estimate <= measured <= 1.5 * estimate, (measured, estimate)
