# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The bundled demo sample and the dataset base configs."""
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from PIL import Image

import mmseg_attnkd  # noqa: F401
from mmseg.registry import DATASETS
from mmseg_attnkd.datasets import CamVidDataset, check_seg_dataset
from mmseg_attnkd.testing import generate_seg_dataset

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'demo', 'camvid_mini')
BASE = osp.join(REPO, 'configs', '_base_', 'datasets')


def test_demo_sample_loads():
    for split, n in (('train', 48), ('val', 24)):
        ds = CamVidDataset(
            data_root=DEMO,
            data_prefix=dict(img_path=f'img_dir/{split}',
                             seg_map_path=f'ann_dir/{split}'))
        assert len(ds) == n
        for i in (0, n - 1):
            info = ds.get_data_info(i)
            assert Image.open(info['img_path']).size == (240, 180)
            assert np.array(Image.open(info['seg_map_path'])).shape == (180,
                                                                        240)
        stats = check_seg_dataset(ds)
        assert stats['num_checked'] == n
    assert osp.isfile(osp.join(DEMO, 'NOTICE.md'))
    total = sum(
        osp.getsize(osp.join(d, f)) for d, _, fs in os.walk(DEMO) for f in fs)
    assert total < 6 * 1024 * 1024


def test_demo_sample_covers_all_sequences():
    names = os.listdir(osp.join(DEMO, 'img_dir', 'train'))
    seqs = {n.split('_')[0] for n in names}
    assert seqs == {'0001TP', '0006R0', '0016E5'}


@pytest.mark.parametrize('name,dataset_type,num_classes,crop', [
    ('camvid-240x180.py', 'CamVidDataset', 11, (180, 240)),
    ('camvid.py', 'CamVidDataset', 11, (360, 480)),
    ('drosophila_sstem.py', 'DrosophilaSSTEMDataset', 5, (512, 512)),
    ('medseg_covid.py', 'MedSegCovidCTDataset', 4, (384, 384)),
])
def test_base_config_pipelines(tmp_path, name, dataset_type, num_classes,
                               crop):
    cfg = Config.fromfile(osp.join(BASE, name))
    assert cfg.custom_imports['imports'] == ['mmseg_attnkd']
    assert cfg.train_dataloader.dataset.type == dataset_type
    if name.startswith('camvid'):
        root = DEMO  # real (downscaled) CamVid images
        val_split = 'val'
    else:
        root = str(tmp_path / 'data')
        # every base config validates on val (ssTEM: the study split's
        # sections 12-15)
        generate_seg_dataset(root, num_train=1, num_val=1, size=(64, 64),
                             num_classes=num_classes)
        val_split = 'val'
    assert cfg.val_dataloader.dataset.data_prefix.img_path.endswith(
        val_split)
    with DefaultScope.overwrite_default_scope('mmseg'):
        train = DATASETS.build(
            dict(cfg.train_dataloader.dataset, data_root=root))
        val = DATASETS.build(dict(cfg.val_dataloader.dataset, data_root=root))
        sample, vsample = train[0], val[0]
    assert len(train.metainfo['classes']) == num_classes
    h, w = sample['inputs'].shape[-2:]
    assert h <= crop[0] and w <= crop[1]
    seg = sample['data_samples'].gt_sem_seg.data
    assert seg.shape[-2:] == (h, w)
    ori = vsample['data_samples'].ori_shape
    # test pipeline resizes the image but keeps the label at original size
    assert vsample['data_samples'].gt_sem_seg.data.shape[-2:] == ori
