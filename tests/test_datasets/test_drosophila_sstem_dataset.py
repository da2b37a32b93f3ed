# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Drosophila ssTEM: converter (grey values, split, tiling) and dataset."""
import os
import os.path as osp
import warnings

import numpy as np
import pytest
from PIL import Image

import mmseg_attnkd  # noqa: F401
from mmseg.registry import DATASETS
from mmseg_attnkd.datasets import (SSTEM_CLASSES, SSTEM_GREY_TO_CLASS,
                                   check_seg_dataset)
from mmseg_attnkd.datasets.converters import (convert_drosophila_sstem,
                                              parse_index_ranges,
                                              sstem_grey_to_class,
                                              tile_origins)

from _dataset_fixtures import SSTEM_GREYS
from _tools_helpers import load_tool

# class of each grey level, written out independently of the library table
EXPECTED_CLASS = {0: 0, 32: 0, 64: 0, 96: 0, 128: 0, 159: 1, 191: 2,
                  223: 3, 255: 4}


def _load(path):
    return np.array(Image.open(path))


def test_grey_mapping_exact():
    grey = np.array([SSTEM_GREYS], dtype=np.uint8)
    out = sstem_grey_to_class(grey)
    assert out.tolist() == [[EXPECTED_CLASS[g] for g in SSTEM_GREYS]]
    assert SSTEM_GREY_TO_CLASS == EXPECTED_CLASS
    assert len(SSTEM_CLASSES) == 5


def test_grey_mapping_rejects_unknown_levels():
    grey = np.array([[0, 100, 255, 160]], dtype=np.uint8)
    with pytest.raises(ValueError, match=r'lab\.png.*\[100, 160\]'):
        sstem_grey_to_class(grey, 'lab.png')


def test_parse_index_ranges():
    assert parse_index_ranges('0-3,8,10-11') == [0, 1, 2, 3, 8, 10, 11]
    assert parse_index_ranges('16-19') == [16, 17, 18, 19]
    for bad, message in (('', 'Empty index list'),
                         ('3-1', "Bad range '3-1'"),
                         ('a-b', "Cannot parse 'a-b'"),
                         ('-2', "Cannot parse '-2'")):
        with pytest.raises(ValueError, match=message):
            parse_index_ranges(bad)


def test_tile_origins_cover_everything():
    assert tile_origins(64, 32) == [0, 32]
    assert tile_origins(64, 48) == [0, 16]
    assert tile_origins(1024, 256) == [0, 256, 512, 768]
    with pytest.raises(ValueError, match='exceeds'):
        tile_origins(64, 65)


def test_convert_split_and_mapping(sstem_raw, tmp_path):
    out = str(tmp_path / 'out')
    counts = convert_drosophila_sstem(sstem_raw, out, train_sections=range(4),
                                      test_sections=[4, 5])
    assert counts == dict(train=4, test=2, skipped=0)
    assert sorted(os.listdir(osp.join(out, 'img_dir', 'train'))) == [
        f'section{i:02d}.png' for i in range(4)]
    assert sorted(os.listdir(osp.join(out, 'ann_dir', 'test'))) == [
        'section04.png', 'section05.png']
    for split, idx in (('train', 2), ('test', 5)):
        name = f'section{idx:02d}.png'
        img = _load(osp.join(out, 'img_dir', split, name))
        raw = _load(osp.join(sstem_raw, 'raw', f'{idx:02d}.tif'))
        np.testing.assert_array_equal(img, raw)  # raw copied losslessly
        assert img[1, 0] == 10 * idx  # the section's own marker value
        grey = _load(osp.join(sstem_raw, 'labels', f'labels{idx:08d}.png'))
        lab = _load(osp.join(out, 'ann_dir', split, name))
        expected = np.vectorize(EXPECTED_CLASS.get)(grey)
        np.testing.assert_array_equal(lab, expected)


def test_convert_is_deterministic(sstem_raw, tmp_path):
    a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
    for out in (a, b):
        convert_drosophila_sstem(sstem_raw, out, range(3), [3, 4, 5])
    for sub in ('img_dir/train', 'ann_dir/test'):
        assert os.listdir(osp.join(a, sub)) and \
            sorted(os.listdir(osp.join(a, sub))) == \
            sorted(os.listdir(osp.join(b, sub)))
        for name in os.listdir(osp.join(a, sub)):
            np.testing.assert_array_equal(_load(osp.join(a, sub, name)),
                                          _load(osp.join(b, sub, name)))


def test_missing_sections_warn_and_empty_is_error(sstem_raw, tmp_path):
    with pytest.warns(UserWarning, match='section 07 not found'):
        counts = convert_drosophila_sstem(sstem_raw, str(tmp_path / 'o'),
                                          range(0, 4), range(4, 8))
    assert counts == dict(train=4, test=2, skipped=2)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        with pytest.raises(FileNotFoundError, match='No labelled ssTEM'):
            convert_drosophila_sstem(sstem_raw, str(tmp_path / 'p'),
                                     [10, 11], [12])


def test_overlap_and_missing_root_errors(sstem_raw, tmp_path):
    with pytest.raises(ValueError, match=r'\[3\].*both'):
        convert_drosophila_sstem(sstem_raw, str(tmp_path / 'o'), range(4),
                                 [3, 4])
    with pytest.raises(FileNotFoundError, match='raw/'):
        convert_drosophila_sstem(str(tmp_path / 'none'), str(tmp_path / 'o'))


def test_unlabelled_section_is_skipped_with_name(sstem_raw, tmp_path):
    os.remove(osp.join(sstem_raw, 'labels', 'labels00000001.png'))
    with pytest.warns(UserWarning, match=r'01\.tif has no label'):
        counts = convert_drosophila_sstem(sstem_raw, str(tmp_path / 'o'),
                                          [0, 1], [2])
    assert counts == dict(train=1, test=1, skipped=1)


def test_tiling_reassembles(sstem_raw, tmp_path):
    out = str(tmp_path / 'tiles')
    counts = convert_drosophila_sstem(sstem_raw, out, [0, 1], [2], tile=32)
    assert counts == dict(train=8, test=4, skipped=0)
    full = np.zeros((64, 64), dtype=np.uint8)
    for y in (0, 32):
        for x in (0, 32):
            tile = _load(osp.join(out, 'ann_dir', 'test',
                                  f'section02_y{y:04d}_x{x:04d}.png'))
            assert tile.shape == (32, 32)
            full[y:y + 32, x:x + 32] = tile
    grey = _load(osp.join(sstem_raw, 'labels', 'labels00000002.png'))
    np.testing.assert_array_equal(full, np.vectorize(EXPECTED_CLASS.get)(grey))


def test_dataset_loads_converted_data(sstem_raw, tmp_path):
    out = str(tmp_path / 'out')
    convert_drosophila_sstem(sstem_raw, out, range(4), [4, 5])
    for split, n in (('train', 4), ('test', 2)):
        ds = DATASETS.build(
            dict(type='DrosophilaSSTEMDataset', data_root=out,
                 data_prefix=dict(img_path=f'img_dir/{split}',
                                  seg_map_path=f'ann_dir/{split}'),
                 check_labels=True))
        assert len(ds) == n
        assert ds.metainfo['classes'] == SSTEM_CLASSES
        assert len(ds.metainfo['palette']) == 5
        assert [osp.basename(ds.get_data_info(i)['seg_map_path'])
                for i in range(n)] == [osp.basename(
                    ds.get_data_info(i)['img_path']) for i in range(n)]
        assert check_seg_dataset(ds)['num_checked'] == n


def test_real_sample(shared_data, tmp_path):
    root = osp.join(shared_data, 'drosophila_sstem_sample')
    if not osp.isdir(root):
        pytest.skip(f'ssTEM sample not present at {root}')
    out = str(tmp_path / 'real')
    # default ranges: sections 0 and 1 are both train, test is empty
    with pytest.warns(UserWarning):
        counts = convert_drosophila_sstem(root, out)
    assert counts == dict(train=2, test=0, skipped=18)
    counts = convert_drosophila_sstem(root, str(tmp_path / 'split'), [0], [1])
    assert counts == dict(train=1, test=1, skipped=0)
    lab = _load(osp.join(tmp_path, 'split', 'ann_dir', 'test',
                         'section01.png'))
    grey = _load(osp.join(root, 'labels', 'labels00000001.png'))
    img = _load(osp.join(tmp_path, 'split', 'img_dir', 'test',
                         'section01.png'))
    assert lab.shape == img.shape == (1024, 1024)
    assert set(np.unique(lab).tolist()) == {0, 1, 2, 3, 4}
    # membrane = the five membrane grey levels, pixel for pixel
    np.testing.assert_array_equal(lab == 0, grey <= 128)
    np.testing.assert_array_equal(lab == 4, grey == 255)
    ds = DATASETS.build(
        dict(type='DrosophilaSSTEMDataset', data_root=str(tmp_path / 'split'),
             data_prefix=dict(img_path='img_dir/train',
                              seg_map_path='ann_dir/train'),
             check_labels=True))
    assert len(ds) == 1


def test_converter_tool_cli(sstem_raw, tmp_path):
    tool = load_tool('dataset_converters/drosophila_sstem.py')
    counts = tool.main(['--data-root', sstem_raw, '--out-dir',
                        str(tmp_path / 'o'), '--train-sections', '0-2,5',
                        '--test-sections', '3', '--tile', '48'])
    # 64 px with 48 px tiles: origins 0 and 16 -> 4 tiles per section
    assert counts == dict(train=16, test=4, skipped=0)
