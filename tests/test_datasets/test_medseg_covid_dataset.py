# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""MedSeg COVID-19 CT: windowing, mask remapping, NIfTI/slice converters."""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

import mmseg_attnkd  # noqa: F401
from mmseg.registry import DATASETS
from mmseg_attnkd.datasets import MEDSEG_CLASSES
from mmseg_attnkd.datasets.converters import (convert_medseg_nifti,
                                              convert_medseg_slices,
                                              remap_medseg_mask, window_ct)

from _tools_helpers import load_tool


def _load(path):
    return np.array(Image.open(path))


def _volume(rng, shape=(40, 32, 10)):
    """HU volume and a float mask (as MedSeg ships them) with all classes."""
    hu = rng.integers(-1024, 400, size=shape).astype(np.int16)
    mask = np.zeros(shape, dtype=np.float32)
    mask[4:12, 4:12] = 1
    mask[16:24, 8:16] = 2
    mask[28:36, 20:30] = 3
    mask[..., 0] = 0  # an empty slice
    return hu, mask


def _write_nifti(path, array):
    nib = pytest.importorskip('nibabel', reason='nibabel not installed')
    nib.save(nib.Nifti1Image(array, np.eye(4)), path)


def test_window_ct_lung_window():
    hu = np.array([-2000, -1350, -600, 150, 3000])
    out = window_ct(hu)
    assert out.dtype == np.uint8
    assert out.tolist() == [0, 0, 128, 255, 255]
    # linear inside the window
    assert window_ct(np.array([-975.0]), -600, 1500)[0] == 64
    with pytest.raises(ValueError, match='width'):
        window_ct(hu, -600, 0)


def test_remap_mask_variants():
    mask = np.array([[0, 1], [2, 3]], dtype=np.float32)
    np.testing.assert_array_equal(remap_medseg_mask(mask), [[0, 1], [2, 3]])
    np.testing.assert_array_equal(
        remap_medseg_mask(mask, three_class=True), [[0, 1], [2, 0]])
    np.testing.assert_array_equal(
        remap_medseg_mask(mask, three_class=True, effusion_to='ignore'),
        [[0, 1], [2, 255]])
    with pytest.raises(ValueError, match='non-integral'):
        remap_medseg_mask(np.array([[0.5, 1.0]]), name='m')
    with pytest.raises(ValueError, match=r'm\.png.*\[4\]'):
        remap_medseg_mask(np.array([[0, 4]]), name='m.png')
    with pytest.raises(ValueError, match='effusion_to'):
        remap_medseg_mask(mask, True, effusion_to='drop')


def test_convert_nifti(tmp_path):
    rng = np.random.default_rng(0)
    hu, mask = _volume(rng)
    root = tmp_path / 'raw'
    root.mkdir()
    _write_nifti(str(root / 'tr_im.nii.gz'), hu)
    _write_nifti(str(root / 'tr_mask.nii.gz'), mask)
    out = str(tmp_path / 'out')
    counts = convert_medseg_nifti(str(root), out)
    assert counts == dict(train=8, val=2, skipped=0)
    assert sorted(os.listdir(osp.join(out, 'img_dir', 'val'))) == [
        'tr_0004.png', 'tr_0009.png']
    img = _load(osp.join(out, 'img_dir', 'train', 'tr_0003.png'))
    lab = _load(osp.join(out, 'ann_dir', 'train', 'tr_0003.png'))
    # axial slice k, transposed: (40, 32, k) -> image (32, 40)
    assert img.shape == lab.shape == (32, 40)
    np.testing.assert_array_equal(img, window_ct(hu[:, :, 3].T))
    np.testing.assert_array_equal(lab, mask[:, :, 3].T.astype(np.uint8))
    assert set(np.unique(lab).tolist()) == {0, 1, 2, 3}

    out3 = str(tmp_path / 'out3')
    counts = convert_medseg_nifti(str(root), out3, three_class=True,
                                  skip_empty=True)
    assert counts == dict(train=7, val=2, skipped=1)
    lab3 = _load(osp.join(out3, 'ann_dir', 'train', 'tr_0003.png'))
    expected = mask[:, :, 3].T.astype(np.uint8)
    expected[expected == 3] = 0
    np.testing.assert_array_equal(lab3, expected)

    ds = DATASETS.build(
        dict(type='MedSegCovidCT3ClassDataset', data_root=out3,
             data_prefix=dict(img_path='img_dir/train',
                              seg_map_path='ann_dir/train'),
             check_labels=True))
    assert len(ds) == 7 and len(ds.metainfo['palette']) == 3
    # 4-class data in the 3-class dataset: value 3 is caught
    with pytest.raises(ValueError, match=r'tr_0001\.png.*\[3\]'):
        DATASETS.build(
            dict(type='MedSegCovidCT3ClassDataset', data_root=out,
                 data_prefix=dict(img_path='img_dir/train',
                                  seg_map_path='ann_dir/train'),
                 check_labels=True))


def test_nifti_errors(tmp_path):
    rng = np.random.default_rng(1)
    hu, mask = _volume(rng)
    root = tmp_path / 'raw'
    (root / 'rp_im').mkdir(parents=True)
    (root / 'rp_msk').mkdir()
    _write_nifti(str(root / 'rp_im' / '1.nii.gz'), hu)
    _write_nifti(str(root / 'rp_msk' / '1.nii.gz'), mask[:, :, :5])
    with pytest.raises(ValueError, match='same 3-D volume'):
        convert_medseg_nifti(str(root), str(tmp_path / 'o'))
    _write_nifti(str(root / 'rp_im' / '2.nii.gz'), hu)
    with pytest.raises(FileNotFoundError, match=r'rp_im/2\.nii\.gz'):
        convert_medseg_nifti(str(root), str(tmp_path / 'o'))
    with pytest.raises(FileNotFoundError, match='No NIfTI'):
        convert_medseg_nifti(str(tmp_path), str(tmp_path / 'o'))


def test_nifti_val_cases(tmp_path):
    rng = np.random.default_rng(2)
    root = tmp_path / 'raw'
    (root / 'rp_im').mkdir(parents=True)
    (root / 'rp_msk').mkdir()
    for case in ('1', '2'):
        hu, mask = _volume(rng, (16, 16, 4))
        _write_nifti(str(root / 'rp_im' / f'{case}.nii.gz'), hu)
        _write_nifti(str(root / 'rp_msk' / f'{case}.nii.gz'), mask)
    out = str(tmp_path / 'out')
    counts = convert_medseg_nifti(str(root), out, val_every=0,
                                  val_cases=['rp2'])
    assert counts == dict(train=4, val=4, skipped=0)
    assert all(n.startswith('rp2_')
               for n in os.listdir(osp.join(out, 'img_dir', 'val')))
    with pytest.raises(ValueError, match='rp9'):
        convert_medseg_nifti(str(root), out, val_cases=['rp9'])


def _write_slices(root, rng, n=5, hu=False):
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'masks'), exist_ok=True)
    for i in range(n):
        mask = rng.integers(0, 4, size=(24, 24)).astype(np.uint8)
        Image.fromarray(mask).save(osp.join(root, 'masks', f's{i}.png'))
        if hu:
            np.save(osp.join(root, 'images', f's{i}.npy'),
                    rng.integers(-1024, 400, (24, 24)).astype(np.int16))
        else:
            Image.fromarray(rng.integers(0, 256, (24, 24), dtype=np.uint8)
                            ).save(osp.join(root, 'images', f's{i}.png'))


def test_convert_slices(tmp_path):
    rng = np.random.default_rng(3)
    root = str(tmp_path / 'slices')
    _write_slices(root, rng)
    out = str(tmp_path / 'out')
    assert convert_medseg_slices(root, out) == dict(train=4, val=1,
                                                    skipped=0)
    # 8-bit images are copied unchanged, masks kept (4 classes)
    np.testing.assert_array_equal(
        _load(osp.join(out, 'img_dir', 'train', 's0.png')),
        _load(osp.join(root, 'images', 's0.png')))
    np.testing.assert_array_equal(
        _load(osp.join(out, 'ann_dir', 'val', 's4.png')),
        _load(osp.join(root, 'masks', 's4.png')))
    ds = DATASETS.build(
        dict(type='MedSegCovidCTDataset', data_root=out,
             data_prefix=dict(img_path='img_dir/train',
                              seg_map_path='ann_dir/train'),
             check_labels=True))
    assert len(ds) == 4 and ds.metainfo['classes'] == MEDSEG_CLASSES

    # HU slices (.npy int16) are windowed
    root_hu = str(tmp_path / 'hu')
    _write_slices(root_hu, rng, n=2, hu=True)
    out_hu = str(tmp_path / 'out_hu')
    convert_medseg_slices(root_hu, out_hu, val_every=0)
    np.testing.assert_array_equal(
        _load(osp.join(out_hu, 'img_dir', 'train', 's1.png')),
        window_ct(np.load(osp.join(root_hu, 'images', 's1.npy'))))

    os.remove(osp.join(root, 'masks', 's2.png'))
    with pytest.raises(FileNotFoundError, match=r's2\.png'):
        convert_medseg_slices(root, str(tmp_path / 'o2'))


def test_converter_tool_auto_format(tmp_path):
    tool = load_tool('dataset_converters/medseg_covid.py')
    root = str(tmp_path / 'slices')
    _write_slices(root, np.random.default_rng(4), n=3)
    counts = tool.main(['--data-root', root, '--out-dir',
                        str(tmp_path / 'o'), '--three-class',
                        '--val-every', '3'])
    assert counts == dict(train=2, val=1, skipped=0)
    lab = _load(osp.join(tmp_path, 'o', 'ann_dir', 'val', 's2.png'))
    assert lab.max() <= 2
