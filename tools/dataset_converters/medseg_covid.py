# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Convert the MedSeg COVID-19 CT data to MMSeg layout.

Examples::

    # NIfTI release (tr_im.nii.gz + tr_mask.nii.gz, rp_im/ + rp_msk/)
    python tools/dataset_converters/medseg_covid.py \
        --data-root data/medseg_raw --out-dir data/medseg_covid
    # 3-class variant, pleural effusion -> background
    python tools/dataset_converters/medseg_covid.py \
        --data-root data/medseg_raw --out-dir data/medseg_covid3 --three-class
    # per-slice images/ + masks/ folders
    python tools/dataset_converters/medseg_covid.py --format slices \
        --data-root data/medseg_slices --out-dir data/medseg_covid

CT values are windowed with level -600 / width 1500 HU (lung window) to
8-bit unless --window-level/--window-width say otherwise.
"""
import argparse
import glob
import os.path as osp
import sys
import time

from mmseg_attnkd.datasets.converters import (LUNG_WINDOW,
                                              convert_medseg_nifti,
                                              convert_medseg_slices)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='MedSeg COVID-19 CT (NIfTI volumes or image/mask slice '
        'folders; masks 0 bg, 1 GGO, 2 consolidation, 3 pleural effusion) '
        '-> MMSeg layout.')
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--format', choices=['auto', 'nifti', 'slices'],
                        default='auto',
                        help='auto: slices if <data-root>/images holds no '
                        'NIfTI files and tr_im/rp_im are absent')
    parser.add_argument('--axis', type=int, default=2,
                        help='voxel axis to slice NIfTI volumes along')
    parser.add_argument('--window-level', type=float, default=LUNG_WINDOW[0])
    parser.add_argument('--window-width', type=float, default=LUNG_WINDOW[1])
    parser.add_argument('--val-every', type=int, default=5,
                        help='every N-th slice goes to val (0: none)')
    parser.add_argument('--val-cases', nargs='*', default=[],
                        help='NIfTI cases put entirely in val (e.g. rp1)')
    parser.add_argument('--three-class', action='store_true',
                        help='drop pleural effusion (3 classes)')
    parser.add_argument('--effusion-to', choices=['background', 'ignore'],
                        default='background',
                        help='with --three-class: map pleural effusion to '
                        'background (0) or to the ignore index (255)')
    parser.add_argument('--skip-empty', action='store_true',
                        help='skip slices without any lesion')
    return parser.parse_args(argv)


def _looks_like_nifti(root: str) -> bool:
    pats = ['tr_im.nii*', 'rp_im/*.nii*', 'images/*.nii*']
    return any(glob.glob(osp.join(root, p)) for p in pats)


def main(argv=None) -> dict:
    args = parse_args(argv)
    fmt = args.format
    if fmt == 'auto':
        fmt = 'nifti' if _looks_like_nifti(args.data_root) else 'slices'
    window = (args.window_level, args.window_width)
    start = time.time()
    common = dict(window=window, val_every=args.val_every,
                  three_class=args.three_class,
                  effusion_to=args.effusion_to, skip_empty=args.skip_empty)
    if fmt == 'nifti':
        counts = convert_medseg_nifti(args.data_root, args.out_dir,
                                      axis=args.axis,
                                      val_cases=args.val_cases, **common)
    else:
        if args.val_cases:
            raise SystemExit('--val-cases applies to NIfTI input only; '
                             'pre-split slice folders as images/{train,val}.')
        counts = convert_medseg_slices(args.data_root, args.out_dir, **common)
    print(f'Converted ({fmt}) {counts} to {args.out_dir} in '
          f'{time.time() - start:.1f}s')
    return counts


if __name__ == '__main__':
    main(sys.argv[1:])
