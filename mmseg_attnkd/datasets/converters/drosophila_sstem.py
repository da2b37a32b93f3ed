# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Drosophila ssTEM raw release -> MMSeg layout.

Input (``stack1`` of the groundtruth-drosophila-vnc release)::

    data_root/raw/<NN>.tif                    8-bit grey, 1024x1024
    data_root/labels/labels<NNNNNNNN>.png     8-bit grey values, see
                                              SSTEM_GREY_TO_CLASS

Output::

    out_dir/img_dir/{train,val,test}/section<NN>[_y<Y>_x<X>].png   grey
    out_dir/ann_dir/{train,val,test}/section<NN>[_y<Y>_x<X>].png   0..4

The release has 20 labelled sections (00..19) and no official split; the
default is the common 16/4 split by section index (0-15 train, 16-19 test,
no val). For accuracy work pass a val split too, e.g. sections 0-11 train,
12-15 val, 16-19 test (:data:`SSTEM_STUDY_SPLIT`): choose on val, report
test once. ``scale`` resizes every section (e.g. 0.5 gives 512x512) before
tiling: images bilinearly, labels by nearest neighbour.
"""
import os
import os.path as osp
import re
import warnings
from typing import Dict, Iterable, List, Optional, Tuple

import numpy as np
from PIL import Image

from ..drosophila_sstem import SSTEM_GREY_TO_CLASS
from ..label_checks import read_label_map
from .io_utils import (prepare_split_dirs, resize_image, resize_label,
                       save_png, scaled_size)

__all__ = [
    'find_sstem_sections', 'sstem_grey_to_class', 'tile_origins',
    'convert_drosophila_sstem', 'SSTEM_STUDY_SPLIT'
]

#: Train/val/test sections of the accuracy study (choose on val, report
#: test): 12 / 4 / 4 of the 20 labelled sections, contiguous in depth so
#: neighbouring (strongly correlated) sections stay in one split.
SSTEM_STUDY_SPLIT = dict(
    train=tuple(range(0, 12)), val=tuple(range(12, 16)),
    test=tuple(range(16, 20)))

_RAW_RE = re.compile(r'^(\d+)\.tiff?$', re.IGNORECASE)
_LABEL_RE = re.compile(r'^labels(\d+)\.png$', re.IGNORECASE)


def find_sstem_sections(
        data_root: str) -> Dict[int, Tuple[str, Optional[str]]]:
    """Map section index -> ``(raw_path, label_path or None)``.

    Raises:
        FileNotFoundError: ``data_root/raw`` does not exist.
    """
    raw_dir = osp.join(data_root, 'raw')
    label_dir = osp.join(data_root, 'labels')
    if not osp.isdir(raw_dir):
        raise FileNotFoundError(
            f'No raw/ folder in {data_root!r}. --data-root must hold raw/'
            '<NN>.tif and labels/labels<NNNNNNNN>.png (the ssTEM stack1 '
            'layout).')
    labels = {}
    if osp.isdir(label_dir):
        for name in os.listdir(label_dir):
            m = _LABEL_RE.match(name)
            if m:
                labels[int(m.group(1))] = osp.join(label_dir, name)
    sections = {}
    for name in sorted(os.listdir(raw_dir)):
        m = _RAW_RE.match(name)
        if m:
            idx = int(m.group(1))
            sections[idx] = (osp.join(raw_dir, name), labels.get(idx))
    return sections


def sstem_grey_to_class(grey: np.ndarray, name: str = 'label') -> np.ndarray:
    """Map release grey values to class indices 0..4.

    Args:
        grey: ``(H, W)`` uint8 label image of the release.
        name: Used in the error message (usually the file path).

    Returns:
        np.ndarray: ``(H, W)`` uint8 class indices (see
        :data:`SSTEM_GREY_TO_CLASS`).

    Raises:
        ValueError: ``grey`` holds values that are not one of the release's
            nine grey levels (e.g. a resampled or colour-coded file).
    """
    lut = np.full(256, 255, dtype=np.uint8)
    for value, cls in SSTEM_GREY_TO_CLASS.items():
        lut[value] = cls
    grey = np.asarray(grey)
    if grey.dtype != np.uint8:
        raise ValueError(f'{name}: expected an 8-bit label image, got '
                         f'{grey.dtype}.')
    values = np.unique(grey)
    unknown = [int(v) for v in values if int(v) not in SSTEM_GREY_TO_CLASS]
    if unknown:
        raise ValueError(
            f'{name} contains grey values {unknown} that are not ssTEM '
            f'label levels {sorted(SSTEM_GREY_TO_CLASS)}. Use the original '
            'label PNGs (not resized or re-encoded ones).')
    return lut[grey]


def _read_raw(path: str) -> np.ndarray:
    with Image.open(path) as img:
        if getattr(img, 'n_frames', 1) > 1:
            warnings.warn(f'{path} has {img.n_frames} pages; using the '
                          'first.')
        if img.mode not in ('L', 'P'):
            raise ValueError(
                f'{path} is a {img.mode!r} image; the ssTEM raw sections '
                'are 8-bit greyscale TIFFs. Convert it to 8-bit first.')
        return np.array(img)


def tile_origins(length: int, tile: int) -> List[int]:
    """Top/left offsets of tiles of size ``tile`` covering ``length``.

    Tiles step by ``tile``; if ``length`` is not a multiple, a last tile is
    aligned to the end (overlapping its neighbour), so every pixel is kept.
    """
    if tile > length:
        raise ValueError(f'Tile size {tile} exceeds the image size '
                         f'{length}.')
    origins = list(range(0, length - tile + 1, tile))
    if origins[-1] + tile < length:
        origins.append(length - tile)
    return origins


def convert_drosophila_sstem(data_root: str,
                             out_dir: str,
                             train_sections: Iterable[int] = range(0, 16),
                             test_sections: Iterable[int] = range(16, 20),
                             tile: Optional[int] = None,
                             val_sections: Optional[Iterable[int]] = None,
                             scale: float = 1.0) -> Dict[str, int]:
    """Convert ssTEM sections to MMSeg layout with a split by section.

    Args:
        data_root: Folder with ``raw/`` and ``labels/``.
        out_dir: Output root (``img_dir/{train,val,test}``,
            ``ann_dir/{train,val,test}``).
        train_sections: Section indices for ``train``.
        test_sections: Section indices for ``test``.
        tile: Optional tile size; each section is cut into ``tile x tile``
            patches (see :func:`tile_origins`), after scaling.
        val_sections: Section indices for ``val``; None or empty (default)
            writes no val split (the old 16/4 layout).
        scale: Resize factor of every section (1.0 keeps 1024x1024; 0.5
            gives 512x512): images bilinear (area-averaging when
            shrinking), labels nearest, so label values stay valid.

    Returns:
        dict: ``{'train': n, 'test': n, 'skipped': n}`` sample counts
        (tiles when tiling), plus ``'val': n`` when a val split is given.

    Raises:
        ValueError: The splits overlap, a label has unknown grey values,
            a raw/label pair differs in size, or ``scale``/``tile`` is not
            positive.
        FileNotFoundError: No requested section was found.
    """
    splits = [('train', sorted(set(train_sections)))]
    val_sections = sorted(set(val_sections or ()))
    if val_sections:
        splits.append(('val', val_sections))
    splits.append(('test', sorted(set(test_sections))))
    for i, (name_a, idx_a) in enumerate(splits):
        for name_b, idx_b in splits[i + 1:]:
            overlap = sorted(set(idx_a) & set(idx_b))
            if overlap:
                raise ValueError(
                    f'Sections {overlap} are in both the {name_a} and the '
                    f'{name_b} split; give disjoint ranges.')
    if tile is not None and tile <= 0:
        raise ValueError(f'tile must be positive, got {tile}.')
    if not scale > 0:
        raise ValueError(f'scale must be > 0, got {scale}.')
    sections = find_sstem_sections(data_root)
    counts = {name: 0 for name, _ in splits}
    counts['skipped'] = 0
    for split, indices in splits:
        img_out, ann_out = prepare_split_dirs(out_dir, split)
        for idx in indices:
            if idx not in sections:
                warnings.warn(f'ssTEM section {idx:02d} not found in '
                              f'{data_root}/raw; skipped.')
                counts['skipped'] += 1
                continue
            raw_path, label_path = sections[idx]
            if label_path is None:
                warnings.warn(f'ssTEM section {raw_path} has no label '
                              f'labels/labels{idx:08d}.png; skipped.')
                counts['skipped'] += 1
                continue
            raw = _read_raw(raw_path)
            label = sstem_grey_to_class(read_label_map(label_path),
                                        label_path)
            if raw.shape != label.shape:
                raise ValueError(f'{raw_path} is {raw.shape} but '
                                 f'{label_path} is {label.shape}.')
            if scale != 1.0:
                size = scaled_size((raw.shape[1], raw.shape[0]), scale)
                raw = np.array(resize_image(Image.fromarray(raw), size))
                label = resize_label(label, size)
            stem = f'section{idx:02d}'
            if tile is None:
                crops = [(stem, raw, label)]
            else:
                crops = [(f'{stem}_y{y:04d}_x{x:04d}',
                          raw[y:y + tile, x:x + tile],
                          label[y:y + tile, x:x + tile])
                         for y in tile_origins(raw.shape[0], tile)
                         for x in tile_origins(raw.shape[1], tile)]
            for name, img, lab in crops:
                save_png(np.ascontiguousarray(img),
                         osp.join(img_out, name + '.png'))
                save_png(np.ascontiguousarray(lab),
                         osp.join(ann_out, name + '.png'))
                counts[split] += 1
    if sum(n for k, n in counts.items() if k != 'skipped') == 0:
        requested = sorted(i for _, idx in splits for i in idx)
        raise FileNotFoundError(
            f'No labelled ssTEM section of {requested} was found in '
            f'{data_root!r} (found sections: {sorted(sections)}). Check '
            '--data-root and the section ranges.')
    return counts
