# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The family matrix: every MMSeg decode head type (one shipped config each)
under axial self-distillation, and teacher/student pairs of shipped configs
under AttnFD ``stages='auto'`` and CWD; two CPU training steps each.

A row passes when it works, is refused with one line by this package, or
is not applicable (a missing optional package, no shipped config). The
families the fixes of this matrix were made for run by default; the rest
are ``slow``. ``python tools/analysis/family_matrix.py --write
docs/families.md`` writes the table of every row.
"""
import pytest

from mmseg_attnkd.testing.family_matrix import (PAIRS, axial_sd_row,
                                                decode_head_types, pair_row)

#: Cheap rows (a few seconds each on one core) the fixes were made for,
#: with their outcome; every other row is slow.
DEFAULT_HEADS = {
    'DAHead': 'works',  # three outputs in training
    'EncHead': 'works',  # (logits, SE-loss vector)
    'PIDHead': 'works',  # three outputs, OHEM losses, edge labels
    'DDRHead': 'works',  # two outputs, OHEM losses only
    'SegformerHead': 'works',  # channels-last logits
    'OCRHead': 'works',  # cascade: the last stage
    'PointHead': 'works',  # cascade ending in points: the coarse stage
    'SegmenterMaskTransformerHead': 'works',  # no conv_seg: logits_tap
}


def _check(row):
    assert row.outcome in ('works', 'refused', 'n/a'), row
    if row.outcome != 'works':
        assert row.message and '\n' not in row.message, row


def _head_params():
    return [
        pytest.param(h, id=h,
                     marks=() if h in DEFAULT_HEADS else pytest.mark.slow)
        for h in decode_head_types()
    ]


def test_every_registered_head_type_is_a_row():
    heads = decode_head_types()
    assert len(heads) > 30 and 'FCNHead' in heads and 'DAHead' in heads


@pytest.mark.parametrize('head', _head_params())
def test_axial_sd_on_the_stock_config(head):
    row = axial_sd_row(head)
    _check(row)
    if head in DEFAULT_HEADS:
        assert row.outcome == DEFAULT_HEADS[head], row


#: Cheap pairs the fixes were made for (channels-last SegFormer logits
#: into a CNN, PIDNet's mode-dependent backbone); the others are slow.
DEFAULT_PAIRS = ('segformer', 'pidnet')


def _pair_params():
    return [
        pytest.param(p, id=f'{p[0].split("/")[0]}->{p[1].split("/")[0]}',
                     marks=() if p[0].split('/')[0] in DEFAULT_PAIRS else
                     pytest.mark.slow)
        for p in PAIRS
    ]


@pytest.mark.parametrize('method', ['attnfd-auto', 'cwd'])
@pytest.mark.parametrize('pair', _pair_params())
def test_pair_works(method, pair):
    row = pair_row(method, *pair)
    assert row.outcome == 'works', row
