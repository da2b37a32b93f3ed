# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Checks on segmentation label maps shared by datasets and converters.

A label map is valid for a dataset with ``C`` classes when every pixel is
either a class index in ``0..C-1`` or the ignore index (255 by default).
Anything else silently corrupts training (cross-entropy indexes out of range
or, worse, a wrong class is learnt), so these helpers raise instead.
"""
import os.path as osp
from typing import Dict, Iterable, Optional, Sequence

import numpy as np
from PIL import Image

__all__ = [
    'find_bad_label_values', 'check_label_array', 'read_label_map',
    'check_label_file', 'check_seg_dataset'
]


def find_bad_label_values(label: np.ndarray, num_classes: int,
                          ignore_index: Optional[int] = 255) -> np.ndarray:
    """Values in ``label`` that are neither a class index nor ignored.

    Args:
        label: Integer label map of any shape, e.g. ``(H, W)``.
        num_classes: Number of classes ``C``; valid indices are ``0..C-1``.
        ignore_index: The value meaning "void"; None if there is none.

    Returns:
        np.ndarray: Sorted unique offending values (empty when all valid).
    """
    values = np.unique(np.asarray(label))
    bad = (values < 0) | (values >= num_classes)
    if ignore_index is not None:
        bad &= values != ignore_index
    return values[bad]


def check_label_array(label: np.ndarray,
                      num_classes: int,
                      ignore_index: Optional[int] = 255,
                      name: str = 'label map',
                      hint: str = '') -> None:
    """Raise ``ValueError`` if ``label`` has values outside the classes.

    Args:
        label: Integer label map, e.g. ``(H, W)``.
        num_classes: Number of classes ``C``.
        ignore_index: The void value, allowed anywhere; None for none.
        name: What to call the map in the message (usually its path).
        hint: Extra sentence telling the user how to fix it.
    """
    bad = find_bad_label_values(label, num_classes, ignore_index)
    if bad.size:
        allowed = f'0..{num_classes - 1}'
        if ignore_index is not None:
            allowed += f' or the ignore index {ignore_index}'
        raise ValueError(
            f'{name} contains label values {bad.tolist()} outside the '
            f'{num_classes} classes (allowed: {allowed}). ' +
            (hint or 'Convert the raw annotations with the matching tool '
             'in tools/dataset_converters/, which maps them to class '
             'indices and void to the ignore index.'))


def read_label_map(path: str) -> np.ndarray:
    """Read a single-channel label image as an integer ``(H, W)`` array.

    Raises:
        ValueError: The file has colour channels (an RGB colour-coded
            annotation instead of a class-index map).
    """
    with Image.open(path) as img:
        # for palette ('P') PNGs this is the index itself, as MMSeg reads it
        label = np.array(img)
    if label.ndim != 2:
        raise ValueError(
            f'Label map {path} has shape {label.shape}; a single-channel '
            'image of class indices is expected, not a colour-coded '
            'annotation. Convert it with tools/dataset_converters/.')
    return label


def check_label_file(path: str,
                     num_classes: int,
                     ignore_index: Optional[int] = 255,
                     label_map: Optional[Dict[int, int]] = None,
                     reduce_zero_label: bool = False,
                     hint: str = '') -> np.ndarray:
    """Read one label file and check its values.

    ``label_map`` and ``reduce_zero_label`` are applied first, exactly as
    MMSeg's ``LoadAnnotations`` does, so the check sees what the loss sees.

    Returns:
        np.ndarray: The (mapped) ``(H, W)`` label map.
    """
    label = read_label_map(path)
    if reduce_zero_label:
        label = label.astype(np.int64)
        label[label == 0] = 255
        label = label - 1
        label[label == 254] = 255
    if label_map:
        mapped = label.copy()
        for old, new in label_map.items():
            mapped[label == old] = new
        label = mapped
    check_label_array(label, num_classes, ignore_index, name=path, hint=hint)
    return label


def check_seg_dataset(dataset,
                      indices: Optional[Iterable[int]] = None,
                      check_sizes: bool = True) -> Dict[str, int]:
    """Check every label map of a built MMSeg dataset.

    Args:
        dataset: A built ``BaseSegDataset`` (or subclass).
        indices: Only check these sample indices (default: all).
        check_sizes: Also check that each image and its label have the
            same ``(W, H)`` (reads only the file headers).

    Returns:
        dict: ``num_checked`` and ``num_pixels_ignored`` totals.

    Raises:
        FileNotFoundError: A sample's image or label file is missing.
        ValueError: A label has values outside the classes, or an image and
            its label differ in size.
    """
    num_classes = len(dataset.metainfo['classes'])
    ignore_index = getattr(dataset, 'ignore_index', 255)
    label_map = dataset.metainfo.get('label_map')
    reduce_zero = bool(dataset.metainfo.get('reduce_zero_label', False))
    if indices is None:
        indices = range(len(dataset))
    num_checked = num_ignored = 0
    for idx in indices:
        info = dataset.get_data_info(idx)
        seg_path = info.get('seg_map_path')
        if seg_path is None:
            continue
        for key in ('img_path', 'seg_map_path'):
            if not osp.isfile(info[key]):
                raise FileNotFoundError(
                    f'{type(dataset).__name__}: {key} {info[key]} of sample '
                    f'{idx} does not exist.')
        label = check_label_file(seg_path, num_classes, ignore_index,
                                 label_map, reduce_zero)
        if check_sizes:
            with Image.open(info['img_path']) as img:
                img_size = img.size
            lab_size = (label.shape[1], label.shape[0])
            if img_size != lab_size:
                raise ValueError(
                    f'Image {info["img_path"]} is {img_size[0]}x{img_size[1]}'
                    f' but its label {seg_path} is {lab_size[0]}x'
                    f'{lab_size[1]} (WxH). Re-run the converter so both are '
                    'resized together.')
        num_ignored += int((label == ignore_index).sum())
        num_checked += 1
    return dict(num_checked=num_checked, num_pixels_ignored=num_ignored)


def format_missing(paths: Sequence[str], limit: int = 5) -> str:
    """``'a, b, c (and 7 more)'`` for error messages."""
    shown = ', '.join(paths[:limit])
    if len(paths) > limit:
        shown += f' (and {len(paths) - limit} more)'
    return shown
