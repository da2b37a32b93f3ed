# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""LabelSmoothCrossEntropyLoss against MMSeg's CE and torch's smoothing."""
import pytest
import torch
import torch.nn.functional as F

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.losses import LabelSmoothCrossEntropyLoss


def _data():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 6, 7, generator=g)
    label = torch.randint(0, 5, (2, 6, 7), generator=g)
    label[0, :2] = 255  # ignored pixels
    return logits, label


@pytest.mark.parametrize('avg_non_ignore', [False, True])
def test_zero_smoothing_is_mmseg_cross_entropy(avg_non_ignore):
    from mmseg.models.losses import CrossEntropyLoss
    logits, label = _data()
    kw = dict(loss_weight=0.7, avg_non_ignore=avg_non_ignore)
    got = LabelSmoothCrossEntropyLoss(0.0, **kw)(logits, label,
                                                 ignore_index=255)
    want = CrossEntropyLoss(**kw)(logits, label, ignore_index=255)
    torch.testing.assert_close(got, want)


def test_smoothing_equals_torch_over_labelled_pixels():
    logits, label = _data()
    loss = LabelSmoothCrossEntropyLoss(0.1, avg_non_ignore=True)
    got = loss(logits, label, ignore_index=255)
    want = F.cross_entropy(logits, label, ignore_index=255,
                           label_smoothing=0.1)
    torch.testing.assert_close(got, want)
    assert loss.loss_name == 'loss_ce'


def test_a_head_trains_with_it():
    from mmseg.registry import MODELS

    from mmseg_attnkd.testing import seg_batch, tiny_fcn_cfg
    cfg = tiny_fcn_cfg(8, 4)
    cfg['decode_head']['loss_decode'] = dict(
        type='LabelSmoothCrossEntropyLoss', label_smoothing=0.1)
    torch.manual_seed(0)
    model = MODELS.build(cfg).train()
    optim = torch.optim.SGD(model.parameters(), lr=0.05)
    inputs, samples = seg_batch(model, 4, 2, 32, 0)
    first = None
    for _ in range(6):
        loss, _ = model.parse_losses(model.loss(inputs, samples))
        first = float(loss) if first is None else first
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert float(loss) < first


def test_bad_settings_are_one_line():
    with pytest.raises(ValueError, match=r'must lie in \[0, 1\)'):
        LabelSmoothCrossEntropyLoss(1.0)
    with pytest.raises(ValueError, match='without class_weight'):
        LabelSmoothCrossEntropyLoss(0.1, class_weight=[1.0, 2.0])
