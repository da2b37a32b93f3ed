# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""A generated segmentation dataset in MMSeg's folder layout.

Each image shows a few axis-aligned rectangles and discs on a noisy
background; every shape has a class-specific colour (with jitter), so a small
network can learn it in a few dozen iterations and mIoU is meaningful.
"""
import os
import os.path as osp
from typing import Dict, Optional, Tuple

import numpy as np
from PIL import Image

_BASE_COLOURS = np.array(
    [[40, 40, 40], [200, 60, 60], [60, 200, 60], [60, 60, 200],
     [200, 200, 60], [200, 60, 200], [60, 200, 200], [230, 230, 230]],
    dtype=np.float32)


def _draw_sample(rng: np.random.Generator, size: Tuple[int, int],
                 num_classes: int, ignore_index: Optional[int]):
    h, w = size
    label = np.zeros((h, w), dtype=np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(int(rng.integers(2, 5))):
        cls = int(rng.integers(1, num_classes))
        if rng.random() < 0.5:
            y0, x0 = rng.integers(0, h - h // 4), rng.integers(0, w - w // 4)
            y1 = y0 + int(rng.integers(h // 6, h // 2))
            x1 = x0 + int(rng.integers(w // 6, w // 2))
            label[y0:y1, x0:x1] = cls
        else:
            cy, cx = rng.integers(0, h), rng.integers(0, w)
            r = rng.integers(min(h, w) // 8, min(h, w) // 3)
            label[(yy - cy)**2 + (xx - cx)**2 < r * r] = cls
    colours = _BASE_COLOURS[np.arange(num_classes) % len(_BASE_COLOURS)]
    colours = colours + (np.arange(num_classes) // len(_BASE_COLOURS) *
                         17.0)[:, None]
    img = colours[label] + rng.normal(0, 12, size=(h, w, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    if ignore_index is not None:
        # a thin ignored border, as real datasets have void pixels
        label[:, :1] = ignore_index
    return img, label


def generate_seg_dataset(root: str,
                         num_train: int = 8,
                         num_val: int = 4,
                         size: Tuple[int, int] = (64, 64),
                         num_classes: int = 4,
                         ignore_index: Optional[int] = 255,
                         seed: int = 0) -> Dict[str, str]:
    """Write a deterministic toy dataset in MMSeg layout.

    Layout: ``root/img_dir/{train,val}/NNNN.png`` (RGB) and
    ``root/ann_dir/{train,val}/NNNN.png`` (uint8 class indices).

    Args:
        root: Output folder (created). Existing files are overwritten.
        num_train: Number of training images.
        num_val: Number of validation images.
        size: ``(H, W)`` of every image.
        num_classes: Number of classes ``C`` (label values ``0..C-1``).
        ignore_index: Value written in a 1-pixel void border, or None.
        seed: Random seed; the same seed gives byte-identical files.

    Returns:
        dict: ``{'data_root': root, 'train': n, 'val': n}`` as strings.
    """
    rng = np.random.default_rng(seed)
    for split, n in (('train', num_train), ('val', num_val)):
        img_dir = osp.join(root, 'img_dir', split)
        ann_dir = osp.join(root, 'ann_dir', split)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(ann_dir, exist_ok=True)
        for i in range(n):
            img, label = _draw_sample(rng, size, num_classes, ignore_index)
            Image.fromarray(img).save(osp.join(img_dir, f'{i:04d}.png'))
            Image.fromarray(label).save(osp.join(ann_dir, f'{i:04d}.png'))
    return dict(data_root=root, train=str(num_train), val=str(num_val))


def synthetic_dataset_cfg(data_root: str,
                          num_classes: int = 4,
                          batch_size: int = 2,
                          crop_size: Tuple[int, int] = (64, 64)) -> dict:
    """Dataloader/evaluator config pieces for :func:`generate_seg_dataset`.

    Returns:
        dict: ``train_dataloader``, ``val_dataloader``, ``test_dataloader``,
        ``val_evaluator`` and ``test_evaluator`` ready to merge into a
        runner config. Uses MMSeg's ``BaseSegDataset`` with explicit
        metainfo, so no dataset class of this package is involved.
    """
    metainfo = dict(
        classes=tuple(f'class{i}' for i in range(num_classes)),
        palette=[list(map(int, c)) for c in
                 _BASE_COLOURS[np.arange(num_classes) % len(_BASE_COLOURS)]])
    train_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs'),
    ]
    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs'),
    ]

    def loader(split, pipeline, shuffle):
        return dict(
            batch_size=batch_size if split == 'train' else 1,
            num_workers=0,
            persistent_workers=False,
            sampler=dict(type='InfiniteSampler' if shuffle else
                         'DefaultSampler', shuffle=shuffle),
            dataset=dict(
                type='mmseg.BaseSegDataset',
                data_root=data_root,
                metainfo=metainfo,
                img_suffix='.png',
                seg_map_suffix='.png',
                reduce_zero_label=False,
                data_prefix=dict(
                    img_path=f'img_dir/{split}', seg_map_path=f'ann_dir/{split}'),
                pipeline=pipeline))

    evaluator = dict(type='mmseg.IoUMetric', iou_metrics=['mIoU'])
    return dict(
        train_dataloader=loader('train', train_pipeline, True),
        val_dataloader=loader('val', test_pipeline, False),
        test_dataloader=loader('val', test_pipeline, False),
        val_evaluator=evaluator,
        test_evaluator=evaluator)
