# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""MedSeg COVID-19 CT (NIfTI volumes or slice folders) -> MMSeg layout.

Accepted inputs under ``data_root``:

* NIfTI, the MedSeg release names: ``tr_im.nii.gz`` + ``tr_mask.nii.gz``
  (100 axial slices from >40 patients) and/or ``rp_im/<n>.nii.gz`` +
  ``rp_msk/<n>.nii.gz`` (whole volumes); or generic ``images/<case>.nii[.gz]``
  + ``masks/<case>.nii[.gz]``. Read with nibabel (optional dependency).
* Slice folders: ``images/<name>.<png|jpg|tif|npy>`` + ``masks/<name>.<...>``
  (same stem), optionally already split as ``images/{train,val}/``; or the
  COVID-SemiSeg layout of the MedSeg slices (Fan et al., Inf-Net, IEEE TMI
  2020): ``Imgs/<name>.jpg`` (grey JPEG crops) + ``GT/<name>.png`` (palette
  PNGs, 0 background, 1 ground-glass, 2 consolidation), found automatically;
  any other folder names are given as ``img_dir``/``mask_dir``.

Mask values: 0 background, 1 ground-glass opacity, 2 consolidation,
3 pleural effusion. Masks are read as class indices: grey (``L``, 16-bit)
or palette (``P``: the palette index, as MMSeg reads it) images or ``.npy``;
3-class masks (no pleural effusion, e.g. COVID-SemiSeg) and 4-class masks
are both accepted. Colour (RGB) masks, binary 0/255 infection masks and
lossy JPEG masks are refused with a message naming the file.

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
    'find_nifti_pairs', 'convert_medseg_nifti', 'convert_medseg_slices',
    'SLICE_LAYOUTS', 'find_slice_folders', 'read_slice_image',
    'read_slice_mask'
]

#: Default CT window ``(level, width)`` in HU: the common lung window.
LUNG_WINDOW = (-600.0, 1500.0)

_NIFTI_EXTS = ('.nii.gz', '.nii')
_SLICE_EXTS = ('.png', '.jpg', '.jpeg', '.tif', '.tiff', '.bmp', '.npy')
_LOSSY_EXTS = ('.jpg', '.jpeg')

#: ``(image folder, mask folder)`` of the known per-slice layouts: the
#: generic one and COVID-SemiSeg's (``Imgs/`` grey JPEG, ``GT/`` palette PNG).
SLICE_LAYOUTS = {'medseg': ('images', 'masks'), 'semiseg': ('Imgs', 'GT')}


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
    hint = ('MedSeg masks use 0 background, 1 ground-glass opacity, '
            '2 consolidation, 3 pleural effusion.')
    values = np.unique(mask)
    if values.size and set(values.tolist()) <= {0, 255} and 255 in values:
        hint = ('This looks like a binary infection mask (0/255, e.g. '
                "COVID-SemiSeg's LungInfection-*/GT); convert the multi-class "
                'masks instead (MultiClassInfection-*/GT: 0 background, '
                '1 ground-glass, 2 consolidation).')
    check_label_array(mask, 4, ignore_index=None, name=name, hint=hint)
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


_HU_MODES = ('I', 'I;16', 'I;16B', 'I;16L', 'F')


def _grey_if_equal(rgb: np.ndarray, tolerance: int) -> Optional[np.ndarray]:
    """The first channel of an ``(H, W, 3)`` array whose channels agree."""
    chans = rgb[..., :3].astype(np.int16)
    if np.abs(chans - chans[..., :1]).max(initial=0) <= tolerance:
        return rgb[..., 0]
    return None


def read_slice_image(path: str) -> np.ndarray:
    """Read one CT slice image.

    Returns ``(H, W)`` uint8 for 8-bit grey images (including grey JPEGs
    stored with three equal channels, up to JPEG rounding), ``(H, W, 3)``
    uint8 for colour images, and the raw values (int/float, treated as HU
    and windowed by the converter) for 16-bit, 32-bit and ``.npy`` slices.
    """
    if path.lower().endswith('.npy'):
        return np.load(path, allow_pickle=False)
    with Image.open(path) as img:
        if img.mode in _HU_MODES:
            return np.array(img)
        if img.mode == 'L':
            return np.array(img)
        rgb = np.array(img.convert('RGB'))
    grey = _grey_if_equal(rgb, tolerance=3)
    return grey.copy() if grey is not None else rgb


def read_slice_mask(path: str) -> np.ndarray:
    """Read one mask as ``(H, W)`` class indices.

    Grey (``L``, 16-bit) images and ``.npy`` give their values, palette
    (``P``) PNGs their palette indices (as MMSeg's ``LoadAnnotations``
    reads them); an RGB file whose three channels are equal is read as
    grey.

    Raises:
        ValueError: a JPEG mask (lossy: class values are blurred), a 1-bit
            mask, or a colour-coded RGB mask.
    """
    if path.lower().endswith(_LOSSY_EXTS):
        raise ValueError(
            f'{path} is a JPEG mask: JPEG is lossy and blurs class values '
            'at every edge; export the masks as PNG (grey or palette) or '
            '.npy with the class indices 0..3.')
    if path.lower().endswith('.npy'):
        return np.load(path, allow_pickle=False)
    with Image.open(path) as img:
        if img.mode == '1':
            raise ValueError(
                f'{path} is a 1-bit (binary) mask, so it cannot hold the '
                'classes 0 background, 1 ground-glass, 2 consolidation, '
                '3 pleural effusion; pass the multi-class masks (grey or '
                'palette PNGs of class indices).')
        if img.mode in ('L', 'P') + _HU_MODES:
            return np.array(img)
        rgb = np.array(img.convert('RGB'))
    grey = _grey_if_equal(rgb, tolerance=0)
    if grey is None:
        raise ValueError(
            f'{path} is a colour (RGB) mask; the converter needs class '
            'indices 0..3 as a grey or palette PNG (0 background, '
            '1 ground-glass, 2 consolidation, 3 pleural effusion). Map the '
            'colours to these indices first.')
    return grey.copy()


def _list_slices(folder: str) -> Dict[str, str]:
    return {
        osp.splitext(n)[0]: osp.join(folder, n)
        for n in sorted(os.listdir(folder))
        if n.lower().endswith(_SLICE_EXTS)
    }


def _resolve(data_root: str, folder: str) -> str:
    return folder if osp.isabs(folder) else osp.join(data_root, folder)


def find_slice_folders(data_root: str,
                       img_dir: Optional[str] = None,
                       mask_dir: Optional[str] = None) -> Tuple[str, str]:
    """The image and mask folders of a per-slice dataset.

    Args:
        data_root: The dataset folder.
        img_dir: Image folder, absolute or relative to ``data_root``. Default:
            the first of :data:`SLICE_LAYOUTS` whose folders both exist
            (``images``/``masks``, then COVID-SemiSeg's ``Imgs``/``GT``).
        mask_dir: Mask folder, likewise.

    Returns:
        tuple: ``(image folder, mask folder)`` paths.

    Raises:
        FileNotFoundError: ``data_root`` or a folder is missing; the message
            lists what is there and the options to pass.
    """
    if not osp.isdir(data_root):
        raise FileNotFoundError(
            f'MedSeg data root {data_root!r} does not exist; pass the folder '
            'holding the slice folders (images/ + masks/, or Imgs/ + GT/) as '
            '--data-root.')
    if img_dir is None and mask_dir is None:
        for img_name, mask_name in SLICE_LAYOUTS.values():
            if osp.isdir(osp.join(data_root, img_name)) and \
                    osp.isdir(osp.join(data_root, mask_name)):
                return (osp.join(data_root, img_name),
                        osp.join(data_root, mask_name))
    defaults = SLICE_LAYOUTS['medseg']
    folders = (_resolve(data_root, img_dir or defaults[0]),
               _resolve(data_root, mask_dir or defaults[1]))
    for folder, option in zip(folders, ('--img-dir', '--mask-dir')):
        if not osp.isdir(folder):
            present = sorted(n for n in os.listdir(data_root)
                             if osp.isdir(osp.join(data_root, n)))
            holds = f'holds the folders {present}' if present else \
                'holds no folders'
            raise FileNotFoundError(
                f'slice folder {folder!r} does not exist ({data_root!r} '
                f'{holds}). Pass the image and mask '
                'folders with --img-dir and --mask-dir (names relative to '
                '--data-root, or absolute paths), or --layout semiseg for '
                'Imgs/ + GT/; the default is images/ + masks/.')
    return folders


def convert_medseg_slices(data_root: str,
                          out_dir: str,
                          window: Tuple[float, float] = LUNG_WINDOW,
                          val_every: int = 5,
                          three_class: bool = False,
                          effusion_to: str = 'background',
                          skip_empty: bool = False,
                          img_dir: Optional[str] = None,
                          mask_dir: Optional[str] = None,
                          split: Optional[str] = None,
                          stats: Optional[dict] = None) -> Dict[str, int]:
    """Convert folders of per-slice images and masks.

    The image and mask folders (see :func:`find_slice_folders`) hold files
    with the same stem; images may be PNG, JPEG, TIFF, BMP or ``.npy``, masks
    grey or palette PNG/TIFF/BMP or ``.npy`` (see :func:`read_slice_mask`).
    If the image folder has ``train``/``val`` subfolders, that split is kept;
    otherwise slices go to ``split`` if given, else are split by their index
    in name order as in :func:`convert_medseg_nifti`. 8-bit images are kept
    as they are (grey JPEGs become grey PNGs); other dtypes (int16/float HU)
    are windowed with ``window``.

    Args:
        img_dir: Image folder (absolute or relative to ``data_root``).
        mask_dir: Mask folder (absolute or relative to ``data_root``).
        split: ``'train'`` or ``'val'``: put every slice there (e.g. a
            separate test set as ``val``); None: by ``val_every``.
        stats: If a dict is given, ``label_values`` (sorted mask values
            seen, before the three-class mapping) is stored in it.
        (Other arguments as in :func:`convert_medseg_nifti`.)

    Returns:
        dict: ``train``/``val``/``skipped`` slice counts.

    Raises:
        FileNotFoundError: Missing folders, no slices, or an image without
            a mask (named).
        ValueError: A mask with values outside 0..3, a colour/JPEG/binary
            mask, or an image and mask of different sizes (named).
    """
    if split not in (None, 'train', 'val'):
        raise ValueError(f"split must be 'train', 'val' or None, got "
                         f'{split!r}.')
    img_root, mask_root = find_slice_folders(data_root, img_dir, mask_dir)
    if osp.isdir(osp.join(img_root, 'train')):
        groups = [(s, osp.join(img_root, s), osp.join(mask_root, s))
                  for s in ('train', 'val')
                  if osp.isdir(osp.join(img_root, s))]
    else:
        groups = [(split, img_root, mask_root)]
    counts = dict(train=0, val=0, skipped=0)
    seen = set()
    dirs = {s: prepare_split_dirs(out_dir, s) for s in ('train', 'val')}
    total = 0
    for fixed_split, img_folder, mask_folder in groups:
        images = _list_slices(img_folder)
        masks = _list_slices(mask_folder) if osp.isdir(mask_folder) else {}
        missing = [images[s] for s in images if s not in masks]
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} slice image(s) have no mask in '
                f'{mask_folder}: {format_missing(missing)}. Masks need the '
                'same file name stem as their image (e.g. 12.jpg and '
                '12.png); check --mask-dir.')
        total += len(images)
        for k, stem in enumerate(images):
            img = read_slice_image(images[stem])
            raw = read_slice_mask(masks[stem])
            label = remap_medseg_mask(raw, three_class, effusion_to,
                                      name=masks[stem])
            seen.update(np.unique(raw).astype(int).tolist())
            if img.shape[:2] != label.shape:
                raise ValueError(f'{images[stem]} is {img.shape[:2]} but '
                                 f'{masks[stem]} is {label.shape}; image and '
                                 'mask of a slice must have the same size.')
            if skip_empty and not np.any((label > 0) & (label != 255)):
                counts['skipped'] += 1
                continue
            if img.dtype != np.uint8:
                img = window_ct(img, *window)
            out_split = fixed_split or ('val' if _is_val('', k, val_every, ())
                                        else 'train')
            save_png(img, osp.join(dirs[out_split][0], stem + '.png'))
            save_png(label, osp.join(dirs[out_split][1], stem + '.png'))
            counts[out_split] += 1
    if total == 0:
        raise FileNotFoundError(
            f'No slice images ({", ".join(_SLICE_EXTS)}) in {img_root!r}; '
            'pass the folder holding them with --img-dir.')
    if stats is not None:
        stats['label_values'] = sorted(seen)
    return counts
