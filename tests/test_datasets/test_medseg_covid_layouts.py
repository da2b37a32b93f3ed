# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Per-slice MedSeg layouts: COVID-SemiSeg (Imgs/ + GT/), custom folders,
JPEG and PNG images, palette and grey masks, 3- and 4-class masks."""
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

import mmseg_attnkd  # noqa: F401
from mmseg.registry import DATASETS
from mmseg_attnkd.datasets.converters.medseg_covid import (
    convert_medseg_slices, find_slice_folders, read_slice_image,
    read_slice_mask)

from _tools_helpers import load_tool

_PALETTE = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 12)


def _tool():
    return load_tool('dataset_converters/medseg_covid.py')


def _mask(rng, classes, shape=(40, 48)):
    mask = np.zeros(shape, np.uint8)
    for c in range(1, classes):
        y, x = rng.integers(0, shape[0] - 8), rng.integers(0, shape[1] - 8)
        mask[y:y + 8, x:x + 8] = c
    return mask


def write_semiseg(root, n=5, seed=0, classes=3):
    """COVID-SemiSeg layout: Imgs/<i>.jpg grey JPEG (even i: mode L, odd i:
    the same grey stored as RGB), GT/<i>.png palette PNG of class indices.

    Returns ``{stem: (grey image as decoded, mask)}``.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'Imgs'), exist_ok=True)
    os.makedirs(osp.join(root, 'GT'), exist_ok=True)
    out = {}
    for i in range(n):
        grey = np.kron(rng.integers(0, 256, (5, 6)),
                       np.ones((8, 8))).astype(np.uint8)
        img = Image.fromarray(grey)
        path = osp.join(root, 'Imgs', f'{i}.jpg')
        (img.convert('RGB') if i % 2 else img).save(path, quality=95)
        mask = _mask(rng, classes)
        pal = Image.fromarray(mask, 'P')
        pal.putpalette(_PALETTE)
        pal.save(osp.join(root, 'GT', f'{i}.png'))
        with Image.open(path) as decoded:
            out[str(i)] = (np.array(decoded.convert('L')), mask)
    return out


def _load(path):
    with Image.open(path) as img:
        return img.mode, np.array(img)


def test_semiseg_layout_auto_detected_train_and_test(tmp_path, capsys):
    train = write_semiseg(str(tmp_path / 'Train'), n=4, seed=0)
    test = write_semiseg(str(tmp_path / 'Test'), n=2, seed=1)
    out = str(tmp_path / 'out')
    tool = _tool()
    assert tool.main(['--data-root', str(tmp_path / 'Train'), '--out-dir',
                      out, '--split', 'train']) == dict(train=4, val=0,
                                                        skipped=0)
    assert 'MedSegCovidCT3ClassDataset' in capsys.readouterr().out
    assert tool.main(['--layout', 'semiseg', '--data-root',
                      str(tmp_path / 'Test'), '--out-dir', out,
                      '--split', 'val']) == dict(train=0, val=2, skipped=0)
    for split, data in (('train', train), ('val', test)):
        for stem, (grey, mask) in data.items():
            mode, img = _load(osp.join(out, 'img_dir', split, stem + '.png'))
            # grey JPEGs (mode L or RGB with equal channels) -> grey PNGs
            assert mode == 'L' and img.shape == (40, 48)
            assert np.abs(img.astype(int) - grey).max() <= 3
            _, label = _load(osp.join(out, 'ann_dir', split, stem + '.png'))
            np.testing.assert_array_equal(label, mask)  # palette indices
    ds = DATASETS.build(dict(
        type='MedSegCovidCT3ClassDataset', data_root=out,
        data_prefix=dict(img_path='img_dir/train',
                         seg_map_path='ann_dir/train'), check_labels=True))
    assert len(ds) == 4


def test_custom_folders_png_grey_four_class(tmp_path):
    rng = np.random.default_rng(3)
    root = tmp_path / 'raw'
    os.makedirs(root / 'ct')
    os.makedirs(tmp_path / 'elsewhere')
    masks = {}
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 48), dtype=np.uint8)).save(
            root / 'ct' / f'c{i}.png')
        masks[f'c{i}'] = _mask(rng, 4)
        Image.fromarray(masks[f'c{i}']).save(
            tmp_path / 'elsewhere' / f'c{i}.png')  # grey 'L' mask, 0..3
    out4 = str(tmp_path / 'out4')
    counts = convert_medseg_slices(str(root), out4, val_every=0,
                                   img_dir='ct',
                                   mask_dir=str(tmp_path / 'elsewhere'))
    assert counts == dict(train=3, val=0, skipped=0)
    np.testing.assert_array_equal(
        _load(osp.join(out4, 'ann_dir', 'train', 'c1.png'))[1], masks['c1'])
    out3 = str(tmp_path / 'out3')
    stats = {}
    convert_medseg_slices(str(root), out3, val_every=0, img_dir='ct',
                          mask_dir=str(tmp_path / 'elsewhere'),
                          three_class=True, stats=stats)
    assert stats['label_values'] == [0, 1, 2, 3]
    expected = masks['c1'].copy()
    expected[expected == 3] = 0
    np.testing.assert_array_equal(
        _load(osp.join(out3, 'ann_dir', 'train', 'c1.png'))[1], expected)


def test_find_slice_folders_prefers_generic_layout(tmp_path):
    for name in ('images', 'masks', 'Imgs', 'GT'):
        os.makedirs(tmp_path / name)
    assert find_slice_folders(str(tmp_path)) == (
        str(tmp_path / 'images'), str(tmp_path / 'masks'))
    with pytest.raises(FileNotFoundError, match='--img-dir and --mask-dir'):
        find_slice_folders(str(tmp_path), img_dir='nope')


def test_mask_readers_refuse_what_they_cannot_read(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[:4, :, 0] = 255
    Image.fromarray(rgb).save(tmp_path / 'colour.png')
    with pytest.raises(ValueError, match='colour .RGB. mask'):
        read_slice_mask(str(tmp_path / 'colour.png'))
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / 'm.jpg')
    with pytest.raises(ValueError, match='JPEG mask'):
        read_slice_mask(str(tmp_path / 'm.jpg'))
    Image.fromarray(np.zeros((8, 8), np.uint8)).convert('1').save(
        tmp_path / 'bin.png')
    with pytest.raises(ValueError, match='1-bit'):
        read_slice_mask(str(tmp_path / 'bin.png'))
    # grey stored as RGB is read as grey
    grey = np.full((8, 8), 2, np.uint8)
    Image.fromarray(grey).convert('RGB').save(tmp_path / 'grey_rgb.png')
    np.testing.assert_array_equal(
        read_slice_mask(str(tmp_path / 'grey_rgb.png')), grey)
    # a colour image stays colour; a 16-bit slice keeps its values
    Image.fromarray(rgb).save(tmp_path / 'colour_img.png')
    assert read_slice_image(str(tmp_path / 'colour_img.png')).shape == \
        (8, 8, 3)
    hu = np.full((8, 8), 1200, np.uint16)
    Image.fromarray(hu).save(tmp_path / 'hu.png')
    assert read_slice_image(str(tmp_path / 'hu.png')).max() == 1200


def test_binary_infection_mask_gets_a_hint(tmp_path):
    root = tmp_path / 'LungInfection-Train'
    write_semiseg(str(root), n=1)
    Image.fromarray(np.where(_mask(np.random.default_rng(0), 2) > 0, 255,
                             0).astype(np.uint8)).save(root / 'GT' / '0.png')
    with pytest.raises(ValueError, match='binary infection mask.*'
                       'MultiClassInfection'):
        convert_medseg_slices(str(root), str(tmp_path / 'o'))
