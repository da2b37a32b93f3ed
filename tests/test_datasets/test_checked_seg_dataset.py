# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Build-time errors of the datasets and the check_dataset tool."""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

import mmseg_attnkd  # noqa: F401
from mmseg.registry import DATASETS
from mmseg_attnkd.datasets import (check_label_array, check_seg_dataset,
                                   find_bad_label_values)
from mmseg_attnkd.testing import generate_seg_dataset

from _tools_helpers import load_tool



def _cfg(root, split='train', **kw):
    return dict(type='CamVidDataset', data_root=root,
                data_prefix=dict(img_path=f'img_dir/{split}',
                                 seg_map_path=f'ann_dir/{split}'), **kw)


@pytest.fixture
def seg_root(tmp_path):
    root = str(tmp_path / 'data')
    generate_seg_dataset(root, num_train=3, num_val=2, size=(32, 32),
                         num_classes=4)
    return root


def _tool():
    return load_tool('dataset_converters/check_dataset.py')


def test_find_bad_label_values():
    lab = np.array([[0, 3, 255], [4, 200, 1]])
    assert find_bad_label_values(lab, 4).tolist() == [4, 200]
    assert find_bad_label_values(lab, 4, ignore_index=None).tolist() == [
        4, 200, 255]
    assert find_bad_label_values(np.array([-1, 0]), 2).tolist() == [-1]
    check_label_array(np.array([0, 3, 255]), 4)  # valid: no error
    with pytest.raises(ValueError, match=r'\[4, 200\].*0\.\.3'):
        check_label_array(lab, 4)


def test_missing_data_root_names_converter(tmp_path):
    with pytest.raises(FileNotFoundError,
                       match=r'does not exist.*dataset_converters/camvid\.py'):
        DATASETS.build(_cfg(str(tmp_path / 'missing')))


def test_missing_split_folder(seg_root):
    with pytest.raises(FileNotFoundError, match=r'img_dir/test.*not exist'):
        DATASETS.build(_cfg(seg_root, split='test'))


def test_empty_image_folder(tmp_path):
    os.makedirs(tmp_path / 'img_dir' / 'train')
    os.makedirs(tmp_path / 'ann_dir' / 'train')
    with pytest.raises(FileNotFoundError,
                       match=r"no images ending in '\.png'"):
        DATASETS.build(_cfg(str(tmp_path)))


def test_image_without_label_is_named(seg_root):
    os.remove(osp.join(seg_root, 'ann_dir', 'train', '0001.png'))
    with pytest.raises(FileNotFoundError,
                       match=r'1 image\(s\) have no label.*img_dir/train/'
                       r'0001\.png'):
        DATASETS.build(_cfg(seg_root))


def test_missing_ann_file(seg_root):
    with pytest.raises(FileNotFoundError, match='ann_file'):
        DATASETS.build(_cfg(seg_root, ann_file='splits/train.txt'))


def test_bad_label_values_detected(seg_root):
    path = osp.join(seg_root, 'ann_dir', 'train', '0002.png')
    lab = np.array(Image.open(path))
    lab[5, 5] = 17  # CamVid has 11 classes: 17 is invalid
    Image.fromarray(lab).save(path)
    ds = DATASETS.build(_cfg(seg_root))  # cheap default: no value check
    assert len(ds) == 3
    with pytest.raises(ValueError, match=r'0002\.png.*\[17\]'):
        DATASETS.build(_cfg(seg_root, check_labels=True))
    with pytest.raises(SystemExit) as exc:
        _tool().main(['--type', 'CamVidDataset', '--data-root', seg_root,
                      '--splits', 'train'])
    assert exc.value.code == 1


def test_size_mismatch_detected(seg_root):
    path = osp.join(seg_root, 'ann_dir', 'val', '0000.png')
    Image.fromarray(np.zeros((16, 32), np.uint8)).save(path)
    ds = DATASETS.build(_cfg(seg_root, split='val'))
    with pytest.raises(ValueError, match=r'0000\.png.*32x32.*32x16'):
        check_seg_dataset(ds)


def test_check_tool_ok(seg_root):
    stats = _tool().main(['--type', 'CamVidDataset', '--data-root', seg_root,
                          '--splits', 'train', 'val'])
    assert stats['train']['num_checked'] == 3
    assert stats['val']['num_checked'] == 2
    # generate_seg_dataset writes a 1-pixel ignored border column
    assert stats['val']['num_pixels_ignored'] == 2 * 32
