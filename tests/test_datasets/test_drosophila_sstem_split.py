# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Drosophila ssTEM converter: train/val/test split and downscaling."""
import os
import os.path as osp
import warnings

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.datasets.converters import convert_drosophila_sstem
from mmseg_attnkd.datasets.converters.drosophila_sstem import \
    SSTEM_STUDY_SPLIT

from _dataset_fixtures import REPO_ROOT, write_sstem
from _tools_helpers import load_tool

EXPECTED_CLASS = {0: 0, 32: 0, 64: 0, 96: 0, 128: 0, 159: 1, 191: 2,
                  223: 3, 255: 4}


def _tool():
    return load_tool('dataset_converters/drosophila_sstem.py')


def _names(out, kind, split):
    return sorted(os.listdir(osp.join(out, kind, split)))


def test_study_split_is_12_4_4_and_disjoint():
    split = {k: set(v) for k, v in SSTEM_STUDY_SPLIT.items()}
    assert split['train'] == set(range(12))
    assert split['val'] == set(range(12, 16))
    assert split['test'] == set(range(16, 20))


def test_val_split_is_written(tmp_path):
    raw = write_sstem(str(tmp_path / 'stack1'), sections=range(8))
    out = str(tmp_path / 'out')
    counts = convert_drosophila_sstem(raw, out, train_sections=range(4),
                                      val_sections=[4, 5],
                                      test_sections=[6, 7])
    assert counts == dict(train=4, val=2, test=2, skipped=0)
    assert _names(out, 'img_dir', 'val') == ['section04.png',
                                             'section05.png']
    assert _names(out, 'ann_dir', 'test') == ['section06.png',
                                              'section07.png']
    img = np.array(Image.open(osp.join(out, 'img_dir', 'val',
                                       'section05.png')))
    assert img[1, 0] == 50  # section 5's own marker value


def test_old_default_has_no_val_split(sstem_raw, tmp_path):
    out = str(tmp_path / 'out')
    counts = convert_drosophila_sstem(sstem_raw, out, range(4), [4, 5])
    assert counts == dict(train=4, test=2, skipped=0)
    assert not osp.exists(osp.join(out, 'img_dir', 'val'))


@pytest.mark.parametrize('val,test,pair', [
    ([3, 4], [5], 'train and the val'),
    ([4], [4, 5], 'val and the test'),
])
def test_overlapping_val_is_refused(sstem_raw, tmp_path, val, test, pair):
    with pytest.raises(ValueError, match=pair):
        convert_drosophila_sstem(sstem_raw, str(tmp_path / 'o'), range(4),
                                 test, val_sections=val)


def test_scale_halves_images_and_keeps_label_values(sstem_raw, tmp_path):
    out = str(tmp_path / 'out')
    convert_drosophila_sstem(sstem_raw, out, [0], [1], scale=0.5)
    img = np.array(Image.open(osp.join(out, 'img_dir', 'train',
                                       'section00.png')))
    lab = np.array(Image.open(osp.join(out, 'ann_dir', 'test',
                                       'section01.png')))
    assert img.shape == (32, 32) and lab.shape == (32, 32)
    assert set(np.unique(lab)) <= set(range(5))
    # nearest neighbour: every label pixel is one of the full-size pixels
    grey = np.array(Image.open(osp.join(sstem_raw, 'labels',
                                        'labels00000001.png')))
    full = np.vectorize(EXPECTED_CLASS.get)(grey)
    assert set(np.unique(lab)) <= set(np.unique(full))
    # bilinear on section 0 (rows alternate 0/1): the mean stays ~0.5
    assert abs(img.astype(float).mean() - 0.5) <= 0.5
    with pytest.raises(ValueError, match='scale'):
        convert_drosophila_sstem(sstem_raw, str(tmp_path / 'x'), [0], [1],
                                 scale=0)


def test_tool_study_preset_and_overrides(tmp_path):
    tool = _tool()
    args = tool.parse_args(['--data-root', 'x', '--out-dir', 'y',
                            '--split', 'study'])
    assert tool.resolve_split(args) == dict(
        train=list(range(12)), val=list(range(12, 16)),
        test=list(range(16, 20)))
    args = tool.parse_args(['--data-root', 'x', '--out-dir', 'y'])
    assert tool.resolve_split(args) == dict(
        train=list(range(16)), val=[], test=list(range(16, 20)))
    args = tool.parse_args(['--data-root', 'x', '--out-dir', 'y', '--split',
                            'study', '--val-sections', 'none',
                            '--train-sections', '0-15'])
    assert tool.resolve_split(args)['val'] == []
    assert tool.resolve_split(args)['train'] == list(range(16))


def test_tool_converts_with_val_and_scale(tmp_path):
    raw = write_sstem(str(tmp_path / 'stack1'), sections=range(20), size=32)
    out = str(tmp_path / 'out')
    counts = _tool().main(['--data-root', raw, '--out-dir', out, '--split',
                           'study', '--scale', '0.5'])
    assert counts == dict(train=12, val=4, test=4, skipped=0)
    img = Image.open(osp.join(out, 'img_dir', 'test', 'section19.png'))
    assert img.size == (16, 16)


def test_base_config_validates_on_val_and_tests_on_test():
    cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', '_base_',
                                   'datasets', 'drosophila_sstem.py'))
    assert cfg.val_dataloader.dataset.data_prefix.img_path == 'img_dir/val'
    assert cfg.test_dataloader.dataset.data_prefix.img_path == \
        'img_dir/test'
    assert cfg.slide_test_cfg == dict(mode='slide', crop_size=(512, 512),
                                      stride=(341, 341))


def test_real_sample_at_half_scale(shared_data, tmp_path):
    sample = osp.join(shared_data, 'drosophila_sstem_sample')
    if not osp.isdir(sample):
        pytest.skip('../shared/data/drosophila_sstem_sample not present')
    out = str(tmp_path / 'out')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        counts = convert_drosophila_sstem(sample, out, [0], [], scale=0.5,
                                          val_sections=[1])
    assert counts == dict(train=1, val=1, test=0, skipped=0)
    img = Image.open(osp.join(out, 'img_dir', 'val', 'section01.png'))
    lab = np.array(Image.open(osp.join(out, 'ann_dir', 'val',
                                       'section01.png')))
    assert img.size == (512, 512) and img.mode == 'L'
    assert set(np.unique(lab)) <= set(range(5)) and len(np.unique(lab)) >= 3
