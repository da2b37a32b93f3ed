# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""CamVid, SegNet release -> MMSeg layout.

Input (SegNet tutorial ``CamVid/`` folder)::

    data_root/{train,val,test}/<name>.png           RGB 480x360
    data_root/{train,val,test}annot/<name>.png      uint8, 0..10, 11 = void
    data_root/{train,val,test}.txt                  optional pair lists

Output::

    out_dir/img_dir/<split>/<name>.png              RGB (optionally scaled)
    out_dir/ann_dir/<split>/<name>.png              uint8, 0..10, 255 = void
"""
import os
import os.path as osp
import shutil
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ..camvid import CAMVID_SEGNET_VOID
from ..label_checks import check_label_array, format_missing, read_label_map
from .io_utils import (prepare_split_dirs, resize_image, resize_label,
                       save_png, scaled_size, select_evenly)

__all__ = ['read_segnet_split', 'segnet_to_mmseg_label', 'convert_camvid']


def read_segnet_split(data_root: str, split: str) -> List[Tuple[str, str]]:
    """List ``(image_path, label_path)`` pairs of one SegNet split.

    Uses ``<split>.txt`` when present (the ``/SegNet/CamVid/`` prefix of its
    paths is dropped: only ``<folder>/<file>`` is kept), otherwise pairs
    ``<split>/*.png`` with ``<split>annot/`` by file name. Sorted by name.

    Raises:
        FileNotFoundError: The split is absent, or an image has no label
            (the message names the files).
    """
    txt = osp.join(data_root, f'{split}.txt')
    img_dir = osp.join(data_root, split)
    ann_dir = osp.join(data_root, f'{split}annot')
    pairs = []
    if osp.isfile(txt):
        with open(txt) as f:
            for lineno, line in enumerate(f, 1):
                parts = line.split()
                if not parts:
                    continue
                if len(parts) != 2:
                    raise ValueError(
                        f'{txt}:{lineno}: expected "<image> <label>", got '
                        f'{line.strip()!r}.')
                img, ann = (osp.join(data_root, *p.replace('\\', '/')
                                     .split('/')[-2:]) for p in parts)
                pairs.append((img, ann))
    elif osp.isdir(img_dir):
        names = sorted(n for n in os.listdir(img_dir)
                       if n.lower().endswith('.png'))
        pairs = [(osp.join(img_dir, n), osp.join(ann_dir, n)) for n in names]
    else:
        present = [s for s in ('train', 'val', 'test')
                   if osp.isfile(osp.join(data_root, f'{s}.txt'))
                   or osp.isdir(osp.join(data_root, s))]
        raise FileNotFoundError(
            f'CamVid split {split!r} not found: neither {txt} nor {img_dir} '
            'exists. --data-root must be the SegNet "CamVid" folder holding '
            'train/, trainannot/, val/, valannot/; pass --splits from the '
            f'splits it has ({" ".join(present) or "none"}).')
    missing_img = [p[0] for p in pairs if not osp.isfile(p[0])]
    if missing_img:
        raise FileNotFoundError(
            f'{len(missing_img)} image(s) of split {split!r} are missing: '
            f'{format_missing(missing_img)}.')
    missing = [p[0] for p in pairs if not osp.isfile(p[1])]
    if missing:
        raise FileNotFoundError(
            f'{len(missing)} image(s) of split {split!r} have no label in '
            f'{ann_dir}: {format_missing(missing)}. Every image needs a '
            'label PNG of the same name.')
    return sorted(pairs, key=lambda p: osp.basename(p[0]))


def segnet_to_mmseg_label(label: np.ndarray,
                          name: str = 'label') -> np.ndarray:
    """Map SegNet CamVid labels to MMSeg: 0..10 kept, void 11 -> 255.

    Args:
        label: ``(H, W)`` integer label map with values in ``0..11``
            (255 is accepted as already-void).
        name: Used in the error message (usually the file path).

    Returns:
        np.ndarray: ``(H, W)`` uint8 map with values ``0..10`` and 255.

    Raises:
        ValueError: Values other than ``0..11``/255 (names them and
            ``name``).
    """
    check_label_array(
        label, CAMVID_SEGNET_VOID + 1, ignore_index=255, name=name,
        hint='SegNet CamVid labels must be 0..10 plus 11 for void; is this '
        'a colour-coded (RGB) or 32-class annotation?')
    out = np.asarray(label).astype(np.uint8)
    out[out == CAMVID_SEGNET_VOID] = 255
    return out


def convert_camvid(data_root: str,
                   out_dir: str,
                   splits: Optional[Sequence[str]] = None,
                   scale: float = 1.0,
                   limits: Optional[Dict[str, int]] = None) -> Dict[str, int]:
    """Convert the SegNet CamVid release to MMSeg layout.

    Args:
        data_root: SegNet ``CamVid`` folder.
        out_dir: Output root; ``img_dir/<split>``, ``ann_dir/<split>`` are
            created. Existing files with the same names are overwritten.
        splits: Splits to convert. Default: those of ``train``, ``val``,
            ``test`` present in ``data_root``.
        scale: Resize factor (e.g. 0.5 gives 240x180). Images are resized
            bilinearly (area-averaging when shrinking), labels by nearest.
        limits: Optional ``{split: n}``; keeps ``n`` images spread evenly
            over the name-sorted split (see :func:`select_evenly`).

    Returns:
        dict: Number of converted samples per split.

    Raises:
        FileNotFoundError: ``data_root`` or a requested split is missing,
            or an image has no label.
        ValueError: A label has values outside ``0..11``.
    """
    if not osp.isdir(data_root):
        raise FileNotFoundError(
            f'CamVid data root {data_root!r} does not exist; pass the SegNet '
            '"CamVid" folder as --data-root.')
    if splits is None:
        splits = [s for s in ('train', 'val', 'test')
                  if osp.isfile(osp.join(data_root, f'{s}.txt'))
                  or osp.isdir(osp.join(data_root, s))]
        if not splits:
            raise FileNotFoundError(
                f'No CamVid split (train/, val/, test/ or *.txt) found in '
                f'{data_root!r}; pass the SegNet "CamVid" folder (holding '
                'train/, trainannot/, val/, valannot/) as --data-root.')
    limits = limits or {}
    unknown = set(limits) - set(splits)
    if unknown:
        raise ValueError(f'limits given for splits {sorted(unknown)} that '
                         f'are not converted (splits: {list(splits)}); drop '
                         'those --limit-<split> options or add the splits '
                         'to --splits.')
    counts = {}
    for split in splits:
        pairs = select_evenly(read_segnet_split(data_root, split),
                              limits.get(split))
        img_out, ann_out = prepare_split_dirs(out_dir, split)
        for img_path, ann_path in pairs:
            name = osp.splitext(osp.basename(img_path))[0] + '.png'
            label = segnet_to_mmseg_label(read_label_map(ann_path), ann_path)
            with Image.open(img_path) as img:
                size = img.size
                if (label.shape[1], label.shape[0]) != size:
                    raise ValueError(
                        f'{img_path} is {size[0]}x{size[1]} but its label '
                        f'{ann_path} is {label.shape[1]}x{label.shape[0]}.')
                target = scaled_size(size, scale)
                if target == size and img_path.lower().endswith('.png') \
                        and img.mode == 'RGB':
                    shutil.copyfile(img_path, osp.join(img_out, name))
                else:
                    rgb = resize_image(img.convert('RGB'), target)
                    save_png(np.array(rgb), osp.join(img_out, name))
            save_png(resize_label(label, target), osp.join(ann_out, name))
        counts[split] = len(pairs)
    return counts


