# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""MedSeg COVID-19 CT (NIfTI volumes or slice folders) -> MMSeg layout.

Accepted inputs under ``data_root``:

* NIfTI, the MedSeg release names: ``tr_im.nii.gz`` + ``tr_mask.nii.gz``
  (100 axial slices from >40 patients) and/or ``rp_im/<n>.nii.gz`` +
  ``rp_msk/<n>.nii.gz`` (whole volumes); or generic ``images/<case>.nii[.gz]``
  + ``masks/<case>.nii[.gz]``. Read with nibabel (optional dependency).
* Slice folders: ``images/<name>.<png|jpg|tif|npy>`` + ``masks/<name>.<...>``
  (same stem), optionally already split as ``images/{train,val}/``.

Mask values: 0 background, 1 ground-glass opacity, 2 consolidation,
3 pleural effusion.

Intensities. CT values in Hounsfield units (NIfTI volumes, and slice files
that are not 8-bit) are mapped to 8-bit with the lung window
``level=-600, width=1500`` HU, i.e. ``[-1350, 150]`` HU -> ``[0, 255]``
linearly, clipped outside. 8-bit slice images are copied unchanged.

Slicing. Volumes are cut along ``axis`` (default 2: the third voxel axis,
the axial direction in the MedSeg files). Each slice is transposed so that
the first voxel axis runs along image columns, which shows MedSeg slices in
the usual radiological view; image and mask get the same transform.

Three-class variant (``three_class=True``): pleural effusion (3) becomes
background (0) by default, or the ignore index 255 with
``effusion_to='ignore'`` (then it counts neither as right nor wrong).

Split. Slices of each case are assigned to ``val`` when
``slice_index % val_every == val_every - 1`` (20 % with the default 5),
the rest to ``train``; cases listed in ``val_cases`` go to ``val`` whole.
For ``tr_im`` (independent slices) this is a patient-mixed but
slice-disjoint split; for whole volumes prefer ``val_cases`` to avoid
neighbouring slices of one patient in both splits.
"""
import os
import os.path as osp
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

from ..label_checks import check_label_array, format_missing
from .io_utils import prepare_split_dirs, save_png

__all__ = [
    'LUNG_WINDOW', 'window_ct', 'remap_medseg_mask', 'load_nifti',
    'find_nifti_pairs', 'convert_medseg_nifti', 'convert_medseg_slices'
]

#: Default CT window ``(level, width)`` in HU: the common lung window.
LUNG_WINDOW = (-600.0, 1500.0)

_NIFTI_EXTS = ('.nii.gz', '.nii')
_SLICE_EXTS = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.npy')


def window_ct(hu: np.ndarray,
              level: float = LUNG_WINDOW[0],
              width: float = LUNG_WINDOW[1]) -> np.ndarray:
    """Map HU to uint8: ``[level - width/2, level + width/2] -> [0, 255]``.

    Args:
        hu: CT values in Hounsfield units, any shape.
        level: Window centre (HU).
        width: Window width (HU), > 0.

    Returns:
        np.ndarray: uint8 array of the same shape (clipped, rounded).
    """
    if not width > 0:
        raise ValueError(f'Window width must be > 0 HU, got {width}.')
    low = level - width / 2.0
    scaled = (np.asarray(hu, dtype=np.float64) - low) * (255.0 / width)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def remap_medseg_mask(mask: np.ndarray,
                      three_class: bool = False,
                      effusion_to: str = 'background',
                      name: str = 'mask') -> np.ndarray:
    """Check a MedSeg mask (0..3) and map it to training labels.

    Args:
        mask: ``(H, W)`` mask, integer or float with integral values.
        three_class: Drop pleural effusion (see ``effusion_to``).
        effusion_to: ``'background'`` (3 -> 0) or ``'ignore'`` (3 -> 255).
        name: Used in error messages.

    Returns:
        np.ndarray: ``(H, W)`` uint8 labels: 0..3, or 0..2 (+255) for the
        three-class variant.

    Raises:
        ValueError: Non-integral values, or values outside 0..3.
    """
    if effusion_to not in ('background', 'ignore'):
        raise ValueError(f"effusion_to must be 'background' or 'ignore', "
                         f'got {effusion_to!r}.')
    mask = np.asarray(mask)
    if mask.dtype.kind == 'f':
        rounded = np.rint(mask)
        if not np.allclose(mask, rounded, atol=1e-3):
            raise ValueError(
                f'{name} has non-integral values (e.g. '
                f'{float(mask[np.abs(mask - rounded) > 1e-3][0])}); masks '
                'must hold class indices 0..3. Was it resampled with '
                'interpolation?')
        mask = rounded
    check_label_array(
        mask, 4, ignore_index=None, name=name,
        hint='MedSeg masks use 0 background, 1 ground-glass opacity, '
        '2 consolidation, 3 pleural effusion.')
    out = mask.astype(np.uint8)
    if three_class:
        out[out == 3] = 0 if effusion_to == 'background' else 255
    return out


def load_nifti(path: str) -> np.ndarray:
    """Voxel array of a NIfTI file (nibabel imported lazily)."""
    try:
        import nibabel
    except ImportError as err:
        raise ImportError(
            'Reading NIfTI volumes needs nibabel: pip install nibabel (or '
            'pip install -r requirements/optional.txt). Alternatively '
            'export slices as images + masks folders.') from err
    return np.asanyarray(nibabel.load(path).dataobj)


def _strip_nifti_ext(name: str) -> Optional[str]:
    for ext in _NIFTI_EXTS:
        if name.lower().endswith(ext):
            return name[:-len(ext)]
    return None


def _find_nifti(folder: str, stem: str) -> Optional[str]:
    for ext in _NIFTI_EXTS:
        path = osp.join(folder, stem + ext)
        if osp.isfile(path):
            return path
    return None


def find_nifti_pairs(data_root: str) -> List[Tuple[str, str, str]]:
    """Find ``(case, image_path, mask_path)`` NIfTI pairs in ``data_root``.

    See the module docstring for the recognised names. Volumes without a
    mask (e.g. MedSeg's ``val_im``) are ignored.

    Raises:
        FileNotFoundError: ``data_root`` is missing, an image volume in a
            paired folder has no mask (named), or nothing was found.
    """
    if not osp.isdir(data_root):
        raise FileNotFoundError(f'MedSeg data root {data_root!r} does not '
                                'exist.')
    pairs = []
    img = _find_nifti(data_root, 'tr_im')
    if img is not None:
        mask = _find_nifti(data_root, 'tr_mask')
        if mask is None:
            raise FileNotFoundError(f'{img} has no mask tr_mask.nii[.gz] in '
                                    f'{data_root}.')
        pairs.append(('tr', img, mask))
    for img_folder, mask_folder, prefix in (('rp_im', 'rp_msk', 'rp'),
                                            ('images', 'masks', '')):
        img_dir = osp.join(data_root, img_folder)
        if not osp.isdir(img_dir):
            continue
        missing = []
        for name in sorted(os.listdir(img_dir)):
            stem = _strip_nifti_ext(name)
            if stem is None:
                continue
            mask = _find_nifti(osp.join(data_root, mask_folder), stem)
            if mask is None:
                missing.append(osp.join(img_dir, name))
            else:
                pairs.append((prefix + stem, osp.join(img_dir, name), mask))
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} volume(s) have no mask in '
                f'{osp.join(data_root, mask_folder)}: '
                f'{format_missing(missing)}.')
    if not pairs:
        raise FileNotFoundError(
            f'No NIfTI image/mask pairs in {data_root!r}; expected '
            'tr_im.nii.gz + tr_mask.nii.gz, rp_im/ + rp_msk/, or images/ + '
            'masks/ with .nii or .nii.gz files.')
    return pairs


def _is_val(case: str, index: int, val_every: int,
            val_cases: Sequence[str]) -> bool:
    if case in val_cases:
        return True
    return val_every > 0 and index % val_every == val_every - 1


def convert_medseg_nifti(data_root: str,
                         out_dir: str,
                         axis: int = 2,
                         window: Tuple[float, float] = LUNG_WINDOW,
                         val_every: int = 5,
                         val_cases: Iterable[str] = (),
                         three_class: bool = False,
                         effusion_to: str = 'background',
                         skip_empty: bool = False) -> Dict[str, int]:
    """Convert MedSeg NIfTI volumes to MMSeg slices.

    Args:
        data_root: Folder with NIfTI pairs (see :func:`find_nifti_pairs`).
        out_dir: Output root (``img_dir/{train,val}``, ``ann_dir/...``).
        axis: Voxel axis to slice along (0, 1 or 2).
        window: ``(level, width)`` HU window for :func:`window_ct`.
        val_every: Every ``val_every``-th slice goes to ``val`` (0: none).
        val_cases: Case names (``'tr'``, ``'rp<n>'``, or the ``images/``
            stem) put entirely in ``val``.
        three_class: See :func:`remap_medseg_mask`.
        effusion_to: See :func:`remap_medseg_mask`.
        skip_empty: Skip slices whose mask is all background.

    Returns:
        dict: ``train``/``val``/``skipped`` slice counts.
    """
    if axis not in (0, 1, 2):
        raise ValueError(f'axis must be 0, 1 or 2, got {axis}.')
    pairs = find_nifti_pairs(data_root)
    val_cases = tuple(val_cases)
    unknown = sorted(set(val_cases) - {p[0] for p in pairs})
    if unknown:
        raise ValueError(f'val_cases {unknown} not found; cases are '
                         f'{[p[0] for p in pairs]}.')
    dirs = {s: prepare_split_dirs(out_dir, s) for s in ('train', 'val')}
    counts = dict(train=0, val=0, skipped=0)
    for case, img_path, mask_path in pairs:
        vol = load_nifti(img_path)
        mvol = load_nifti(mask_path)
        if vol.ndim == 2:
            vol, mvol = vol[..., None], mvol[..., None]
        if vol.ndim != 3 or vol.shape != mvol.shape:
            raise ValueError(
                f'{img_path} has shape {vol.shape} but its mask {mask_path} '
                f'has {mvol.shape}; both must be the same 3-D volume.')
        for k in range(vol.shape[axis]):
            hu = np.take(vol, k, axis=axis).T
            label = remap_medseg_mask(
                np.take(mvol, k, axis=axis).T, three_class, effusion_to,
                name=f'{mask_path} slice {k}')
            if skip_empty and not np.any((label > 0) & (label != 255)):
                counts['skipped'] += 1
                continue
            split = 'val' if _is_val(case, k, val_every, val_cases) \
                else 'train'
            name = f'{case}_{k:04d}.png'
            save_png(window_ct(hu, *window), osp.join(dirs[split][0], name))
            save_png(label, osp.join(dirs[split][1], name))
            counts[split] += 1
    return counts


def _read_slice(path: str) -> np.ndarray:
    if path.lower().endswith('.npy'):
        return np.load(path, allow_pickle=False)
    with Image.open(path) as img:
        return np.array(img)


def _list_slices(folder: str) -> Dict[str, str]:
    return {
        osp.splitext(n)[0]: osp.join(folder, n)
        for n in sorted(os.listdir(folder))
        if n.lower().endswith(_SLICE_EXTS)
    }


def convert_medseg_slices(data_root: str,
                          out_dir: str,
                          window: Tuple[float, float] = LUNG_WINDOW,
                          val_every: int = 5,
                          three_class: bool = False,
                          effusion_to: str = 'background',
                          skip_empty: bool = False) -> Dict[str, int]:
    """Convert folders of per-slice images and masks.

    ``data_root/images`` and ``data_root/masks`` hold files with the same
    stem. If ``images/train`` and ``images/val`` exist, that split is kept;
    otherwise slices are split by their index in name order as in
    :func:`convert_medseg_nifti`. 8-bit images are kept as they are; other
    dtypes (int16/float HU) are windowed with ``window``.

    Returns:
        dict: ``train``/``val``/``skipped`` slice counts.

    Raises:
        FileNotFoundError: Missing folders, no slices, or an image without
            a mask (named).
    """
    img_root = osp.join(data_root, 'images')
    mask_root = osp.join(data_root, 'masks')
    for folder in (img_root, mask_root):
        if not osp.isdir(folder):
            raise FileNotFoundError(
                f'{folder!r} does not exist; slice mode expects '
                '<data-root>/images and <data-root>/masks with matching '
                'file names.')
    if osp.isdir(osp.join(img_root, 'train')):
        groups = [(s, osp.join(img_root, s), osp.join(mask_root, s))
                  for s in ('train', 'val')
                  if osp.isdir(osp.join(img_root, s))]
    else:
        groups = [(None, img_root, mask_root)]
    counts = dict(train=0, val=0, skipped=0)
    dirs = {s: prepare_split_dirs(out_dir, s) for s in ('train', 'val')}
    total = 0
    for fixed_split, img_dir, mask_dir in groups:
        images = _list_slices(img_dir)
        masks = _list_slices(mask_dir) if osp.isdir(mask_dir) else {}
        missing = [images[s] for s in images if s not in masks]
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} slice image(s) have no mask in {mask_dir}: '
                f'{format_missing(missing)}. Masks need the same file '
                'name stem as their image.')
        total += len(images)
        for k, stem in enumerate(images):
            img = _read_slice(images[stem])
            label = remap_medseg_mask(
                _read_slice(masks[stem]), three_class, effusion_to,
                name=masks[stem])
            if img.shape[:2] != label.shape:
                raise ValueError(f'{images[stem]} is {img.shape[:2]} but '
                                 f'{masks[stem]} is {label.shape}.')
            if skip_empty and not np.any((label > 0) & (label != 255)):
                counts['skipped'] += 1
                continue
            if img.dtype != np.uint8:
                img = window_ct(img, *window)
            split = fixed_split or ('val' if _is_val('', k, val_every, ())
                                    else 'train')
            save_png(img, osp.join(dirs[split][0], stem + '.png'))
            save_png(label, osp.join(dirs[split][1], stem + '.png'))
            counts[split] += 1
    if total == 0:
        raise FileNotFoundError(
            f'No slice images ({", ".join(_SLICE_EXTS)}) in {img_root!r}.')
    return counts
