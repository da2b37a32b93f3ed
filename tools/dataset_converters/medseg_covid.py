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
    # COVID-SemiSeg (Imgs/ grey JPEG + GT/ 3-class palette PNG), its
    # training and test folders as train and val
    python tools/dataset_converters/medseg_covid.py --layout semiseg \
        --data-root COVID-SemiSeg/Dataset/TrainingSet/MultiClassInfection-Train \
        --out-dir data/medseg_covid3 --split train
    python tools/dataset_converters/medseg_covid.py --layout semiseg \
        --data-root COVID-SemiSeg/Dataset/TestingSet/MultiClassInfection-Test \
        --out-dir data/medseg_covid3 --split val
    # any other folder names
    python tools/dataset_converters/medseg_covid.py --data-root DIR \
        --img-dir ct --mask-dir labels --out-dir data/medseg_covid

CT values are windowed with level -600 / width 1500 HU (lung window) to
8-bit unless --window-level/--window-width say otherwise. A bad input ends
with one line (what is wrong and what to pass) and exit status 1.
"""
import glob
import os.path as osp
import sys
import time

from mmseg_attnkd.datasets.converters.io_utils import (
    ConverterArgumentParser, check_out_dir, cli_errors, positive_float)
from mmseg_attnkd.datasets.converters.medseg_covid import (
    LUNG_WINDOW, SLICE_LAYOUTS, convert_medseg_nifti, convert_medseg_slices)


def parse_args(argv=None):
    parser = ConverterArgumentParser(
        prog='medseg_covid.py',
        description='MedSeg COVID-19 CT (NIfTI volumes or image/mask slice '
        'folders; masks 0 bg, 1 GGO, 2 consolidation, 3 pleural effusion) '
        '-> MMSeg layout.')
    parser.add_argument('--data-root', required=True)
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--format', choices=['auto', 'nifti', 'slices'],
                        default='auto',
                        help='auto: nifti if tr_im.nii*, rp_im/*.nii* or '
                        'images/*.nii* exist, else slices')
    parser.add_argument(
        '--layout', choices=['auto'] + sorted(SLICE_LAYOUTS), default='auto',
        help='slice folders: medseg = images/ + masks/, semiseg = '
        'COVID-SemiSeg Imgs/ (grey JPEG) + GT/ (palette PNG); auto: '
        'whichever exists')
    parser.add_argument('--img-dir', default=None,
                        help='slice image folder, relative to --data-root '
                        'or absolute (overrides --layout)')
    parser.add_argument('--mask-dir', default=None,
                        help='slice mask folder, relative to --data-root '
                        'or absolute (overrides --layout)')
    parser.add_argument('--split', choices=['train', 'val'], default=None,
                        help='slices: put every slice in this split (e.g. a '
                        'separate test set as val) instead of --val-every')
    parser.add_argument('--axis', type=int, choices=[0, 1, 2], default=2,
                        help='voxel axis to slice NIfTI volumes along')
    parser.add_argument('--window-level', type=float, default=LUNG_WINDOW[0])
    parser.add_argument('--window-width', type=positive_float,
                        default=LUNG_WINDOW[1])
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
    args = parser.parse_args(argv)
    if args.val_every < 0:
        parser.error(f'argument --val-every: {args.val_every} is negative; '
                     'pass N >= 1 (every N-th slice to val) or 0 (none)')
    return args


def _looks_like_nifti(root: str) -> bool:
    pats = ['tr_im.nii*', 'rp_im/*.nii*', 'images/*.nii*']
    return any(glob.glob(osp.join(root, p)) for p in pats)


def _slice_folders(args):
    img_dir, mask_dir = args.img_dir, args.mask_dir
    if args.layout != 'auto':
        layout = SLICE_LAYOUTS[args.layout]
        img_dir, mask_dir = img_dir or layout[0], mask_dir or layout[1]
    return img_dir, mask_dir


def convert(args) -> dict:
    if not osp.isdir(args.data_root):
        raise FileNotFoundError(
            f'--data-root {args.data_root!r} does not exist; pass the folder '
            'holding the MedSeg NIfTI files (tr_im.nii.gz, rp_im/) or the '
            'slice folders (images/ + masks/, Imgs/ + GT/).')
    check_out_dir(args.out_dir)
    fmt = args.format
    slice_options = [o for o, v in (('--img-dir', args.img_dir),
                                    ('--mask-dir', args.mask_dir),
                                    ('--split', args.split),
                                    ('--layout', args.layout != 'auto'))
                     if v]
    if fmt == 'auto':
        fmt = 'slices' if slice_options or not _looks_like_nifti(
            args.data_root) else 'nifti'
    window = (args.window_level, args.window_width)
    start = time.time()
    common = dict(window=window, val_every=args.val_every,
                  three_class=args.three_class,
                  effusion_to=args.effusion_to, skip_empty=args.skip_empty)
    stats = {}
    if fmt == 'nifti':
        if slice_options:
            raise ValueError(
                f'{", ".join(slice_options)}: only for slice folders, but '
                f'--format nifti was given; drop {slice_options[0]} for '
                'NIfTI input, or pass --format slices.')
        counts = convert_medseg_nifti(args.data_root, args.out_dir,
                                      axis=args.axis,
                                      val_cases=args.val_cases, **common)
    else:
        if args.val_cases:
            raise ValueError('--val-cases applies to NIfTI input only; '
                             'pre-split slice folders as images/{train,val} '
                             'or convert each part with --split.')
        img_dir, mask_dir = _slice_folders(args)
        counts = convert_medseg_slices(args.data_root, args.out_dir,
                                       img_dir=img_dir, mask_dir=mask_dir,
                                       split=args.split, stats=stats,
                                       **common)
    print(f'Converted ({fmt}) {counts} to {args.out_dir} in '
          f'{time.time() - start:.1f}s')
    values = stats.get('label_values')
    if values and not args.three_class and 3 not in values:
        print('Note: no mask has class 3 (pleural effusion): this is 3-class '
              'data (0 background, 1 ground-glass, 2 consolidation); train '
              'it with MedSegCovidCT3ClassDataset.')
    return counts


def main(argv=None) -> dict:
    """Parse ``argv`` and convert; a bad input exits with one line."""
    args = parse_args(argv)
    with cli_errors('medseg_covid.py'):
        return convert(args)


if __name__ == '__main__':
    main(sys.argv[1:])
