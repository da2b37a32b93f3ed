# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Writers of small raw-release fixtures for the dataset tests.

A uniquely named module (not ``conftest``) so test files can import the
writers directly without clashing with other test folders.
"""
import os
import os.path as osp

import numpy as np
from PIL import Image

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SHARED_DATA = osp.join(REPO_ROOT, '..', 'shared', 'data')


def _blocks(rng, shape, values, block=8):
    """Piecewise-constant map of ``values`` in ``block``-sized squares."""
    h, w = shape
    small = rng.choice(np.asarray(values), size=(-(-h // block),
                                                 -(-w // block)))
    return np.kron(small, np.ones((block, block), dtype=small.dtype))[:h, :w]


def write_segnet_camvid(root, num_train=10, num_val=4, size=(48, 64),
                        seed=0, txt_for=('train', )):
    """SegNet-layout CamVid fixture; labels 0..11 (11 = void).

    Names look like ``<seq>_<frame>.png`` over three sequences. Splits in
    ``txt_for`` get a ``<split>.txt`` with the ``/SegNet/CamVid/`` prefix.
    """
    rng = np.random.default_rng(seed)
    h, w = size
    for split, n in (('train', num_train), ('val', num_val)):
        os.makedirs(osp.join(root, split), exist_ok=True)
        os.makedirs(osp.join(root, split + 'annot'), exist_ok=True)
        lines = []
        for i in range(n):
            name = f'seq{i % 3}_{i:06d}.png'
            img = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            label = _blocks(rng, (h, w), np.arange(12)).astype(np.uint8)
            Image.fromarray(img).save(osp.join(root, split, name))
            Image.fromarray(label).save(
                osp.join(root, split + 'annot', name))
            lines.append(f'/SegNet/CamVid/{split}/{name} '
                         f'/SegNet/CamVid/{split}annot/{name}\n')
        if split in txt_for:
            with open(osp.join(root, f'{split}.txt'), 'w') as f:
                f.writelines(lines)
    return root


SSTEM_GREYS = (0, 32, 64, 96, 128, 159, 191, 223, 255)


def write_sstem(root, sections=range(6), size=64, seed=0):
    """ssTEM-layout fixture: ``raw/NN.tif`` and ``labels/labelsNNNNNNNN.png``.

    Each raw section is filled with its own index so tests can tell which
    section a converted image came from.
    """
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'raw'), exist_ok=True)
    os.makedirs(osp.join(root, 'labels'), exist_ok=True)
    for idx in sections:
        raw = np.full((size, size), 10 * idx, dtype=np.uint8)
        raw[::2] += 1
        label = _blocks(rng, (size, size), SSTEM_GREYS).astype(np.uint8)
        Image.fromarray(raw).save(osp.join(root, 'raw', f'{idx:02d}.tif'))
        Image.fromarray(label).save(
            osp.join(root, 'labels', f'labels{idx:08d}.png'))
    return root
