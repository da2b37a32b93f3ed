# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""CamVid: SegNet->MMSeg converter and CamVidDataset."""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

import mmseg_attnkd  # noqa: F401
from mmseg.registry import DATASETS
from mmseg_attnkd.datasets import (CAMVID_CLASSES, CAMVID_PALETTE,
                                   CamVidDataset, check_seg_dataset)
from mmseg_attnkd.datasets.converters import (convert_camvid,
                                              read_segnet_split,
                                              segnet_to_mmseg_label,
                                              select_evenly)

from _tools_helpers import load_tool



def _load(path):
    return np.array(Image.open(path))


def test_segnet_label_mapping_is_exact():
    label = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = segnet_to_mmseg_label(label)
    expected = np.arange(12).reshape(3, 4)
    expected[expected == 11] = 255
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.uint8


def test_segnet_label_out_of_range_names_file_and_values():
    label = np.array([[0, 12], [31, 255]], dtype=np.uint8)
    with pytest.raises(ValueError, match=r"x/y\.png.*\[12, 31\]"):
        segnet_to_mmseg_label(label, 'x/y.png')


def test_select_evenly_spreads_and_is_deterministic():
    items = list(range(100))
    picks = select_evenly(items, 4)
    assert picks == [12, 37, 62, 87]
    assert select_evenly(items, 4) == picks
    assert select_evenly(items, None) == items
    assert select_evenly(items, 500) == items
    with pytest.raises(ValueError, match='positive'):
        select_evenly(items, 0)


def test_convert_full_resolution(segnet_camvid, tmp_path):
    out = str(tmp_path / 'mm')
    counts = convert_camvid(segnet_camvid, out)
    assert counts == {'train': 10, 'val': 4}
    # train came from train.txt (prefix stripped), val from the folder
    for split in ('train', 'val'):
        names = sorted(os.listdir(osp.join(out, 'ann_dir', split)))
        src = sorted(os.listdir(osp.join(segnet_camvid, split + 'annot')))
        assert names == src
        for name in names:
            raw = _load(osp.join(segnet_camvid, split + 'annot', name))
            conv = _load(osp.join(out, 'ann_dir', split, name))
            np.testing.assert_array_equal(conv == 255, raw == 11)
            np.testing.assert_array_equal(conv[raw != 11], raw[raw != 11])
            # images are copied unchanged at scale 1
            np.testing.assert_array_equal(
                _load(osp.join(out, 'img_dir', split, name)),
                _load(osp.join(segnet_camvid, split, name)))


def test_convert_scale_and_limit(segnet_camvid, tmp_path):
    out1, out2 = str(tmp_path / 'a'), str(tmp_path / 'b')
    kw = dict(scale=0.5, limits=dict(train=4, val=2))
    assert convert_camvid(segnet_camvid, out1, **kw) == dict(train=4, val=2)
    convert_camvid(segnet_camvid, out2, **kw)
    all_train = [osp.basename(p[0])
                 for p in read_segnet_split(segnet_camvid, 'train')]
    picked = sorted(os.listdir(osp.join(out1, 'img_dir', 'train')))
    assert picked == select_evenly(all_train, 4)
    # deterministic: a second run writes byte-identical files
    for sub in ('img_dir/train', 'ann_dir/train', 'img_dir/val'):
        for name in os.listdir(osp.join(out1, sub)):
            with open(osp.join(out1, sub, name), 'rb') as f1, \
                    open(osp.join(out2, sub, name), 'rb') as f2:
                assert f1.read() == f2.read()
    name = picked[0]
    img = Image.open(osp.join(out1, 'img_dir', 'train', name))
    lab = _load(osp.join(out1, 'ann_dir', 'train', name))
    assert img.size == (32, 24) and img.mode == 'RGB'
    assert lab.shape == (24, 32)
    # nearest resampling: only values that exist in the source, void -> 255
    raw = _load(osp.join(segnet_camvid, 'trainannot', name))
    expect_values = set(np.unique(raw).tolist()) - {11} | (
        {255} if (raw == 11).any() else set())
    assert set(np.unique(lab).tolist()) <= expect_values
    # the 8x8 label blocks become 4x4 blocks: nearest keeps them exact
    np.testing.assert_array_equal(lab, segnet_to_mmseg_label(raw)[::2, ::2])


def test_convert_image_without_label_names_file(segnet_camvid, tmp_path):
    os.remove(osp.join(segnet_camvid, 'valannot', 'seq1_000001.png'))
    with pytest.raises(FileNotFoundError, match='seq1_000001.png'):
        convert_camvid(segnet_camvid, str(tmp_path / 'o'))


def test_convert_missing_root_and_bad_limit(tmp_path, segnet_camvid):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        convert_camvid(str(tmp_path / 'nope'), str(tmp_path / 'o'))
    with pytest.raises(ValueError, match='test'):
        convert_camvid(segnet_camvid, str(tmp_path / 'o'),
                       limits=dict(test=3))


def test_convert_rejects_bad_label_values(segnet_camvid, tmp_path):
    path = osp.join(segnet_camvid, 'trainannot', 'seq0_000000.png')
    lab = _load(path)
    lab[0, 0] = 40
    Image.fromarray(lab).save(path)
    with pytest.raises(ValueError, match=r'seq0_000000\.png.*\[40\]'):
        convert_camvid(segnet_camvid, str(tmp_path / 'o'))


def test_converter_tool_cli(segnet_camvid, tmp_path):
    tool = load_tool('dataset_converters/camvid.py')
    counts = tool.main([
        '--data-root', segnet_camvid, '--out-dir', str(tmp_path / 'o'),
        '--scale', '0.5', '--limit-train', '3', '--limit-val', '1'
    ])
    assert counts == dict(train=3, val=1)


def test_dataset_loads_converted_data(segnet_camvid, tmp_path):
    out = str(tmp_path / 'mm')
    convert_camvid(segnet_camvid, out)
    ds = DATASETS.build(
        dict(type='CamVidDataset', data_root=out,
             data_prefix=dict(img_path='img_dir/train',
                              seg_map_path='ann_dir/train'),
             check_labels=True))
    assert isinstance(ds, CamVidDataset)
    assert len(ds) == 10
    assert ds.metainfo['classes'] == CAMVID_CLASSES
    assert len(ds.metainfo['palette']) == 11
    assert ds.metainfo['palette'] == CAMVID_PALETTE
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert osp.basename(info['img_path']) == \
            osp.basename(info['seg_map_path'])
        assert info['img_path'].startswith(osp.join(out, 'img_dir', 'train'))
    stats = check_seg_dataset(ds)
    assert stats['num_checked'] == 10 and stats['num_pixels_ignored'] > 0


def test_reduce_zero_label_refused():
    with pytest.raises(ValueError, match='Sky'):
        CamVidDataset(reduce_zero_label=True, lazy_init=True)


def test_real_camvid_sample(shared_data, tmp_path):
    root = osp.join(shared_data, 'camvid_segnet')
    if not osp.isdir(root):
        pytest.skip(f'real CamVid not present at {root}')
    out = str(tmp_path / 'real')
    counts = convert_camvid(root, out, splits=['train', 'val'], scale=0.5,
                            limits=dict(train=2, val=1))
    assert counts == dict(train=2, val=1)
    for split in ('train', 'val'):
        for name in os.listdir(osp.join(out, 'ann_dir', split)):
            lab = _load(osp.join(out, 'ann_dir', split, name))
            assert lab.shape == (180, 240)
            assert set(np.unique(lab).tolist()) <= set(range(11)) | {255}
            assert Image.open(osp.join(out, 'img_dir', split, name)).size \
                == (240, 180)
