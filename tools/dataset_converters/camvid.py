# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Convert the SegNet CamVid release to MMSeg layout.

Example (the bundled demo sample)::

    python tools/dataset_converters/camvid.py \
        --data-root ../shared/data/camvid_segnet --out-dir demo/camvid_mini \
        --scale 0.5 --limit-train 48 --limit-val 24

A bad input ends with one line (what is wrong and what to pass) and exit
status 1 (2 for a bad option).
"""
import sys
import time

from mmseg_attnkd.datasets.converters.camvid import convert_camvid
from mmseg_attnkd.datasets.converters.io_utils import (
    ConverterArgumentParser, check_out_dir, cli_errors, positive_float,
    positive_int)


def parse_args(argv=None):
    parser = ConverterArgumentParser(
        prog='camvid.py',
        description='CamVid (SegNet release: train/, trainannot/, val/, '
        'valannot/, labels 0..11 with 11 = void) -> MMSeg layout '
        '(img_dir/<split>, ann_dir/<split>, void -> 255).')
    parser.add_argument('--data-root', required=True,
                        help='the SegNet "CamVid" folder')
    parser.add_argument('--out-dir', required=True, help='output root')
    parser.add_argument('--splits', nargs='+', default=None,
                        help='splits to convert (default: those present of '
                        'train val test)')
    parser.add_argument('--scale', type=positive_float, default=1.0,
                        help='resize factor, e.g. 0.5 for 240x180 (images '
                        'bilinear/area, labels nearest)')
    for split in ('train', 'val', 'test'):
        parser.add_argument(f'--limit-{split}', type=positive_int,
                            default=None,
                            help=f'keep N {split} images spread evenly over '
                            'the name-sorted list (deterministic)')
    return parser.parse_args(argv)


def convert(args) -> dict:
    check_out_dir(args.out_dir)
    limits = {s: getattr(args, f'limit_{s}') for s in ('train', 'val', 'test')
              if getattr(args, f'limit_{s}') is not None}
    start = time.time()
    counts = convert_camvid(args.data_root, args.out_dir, splits=args.splits,
                            scale=args.scale, limits=limits)
    print(f'Converted {counts} to {args.out_dir} in '
          f'{time.time() - start:.1f}s')
    return counts


def main(argv=None) -> dict:
    """Parse ``argv`` and convert; a bad input exits with one line."""
    args = parse_args(argv)
    with cli_errors('camvid.py'):
        return convert(args)


if __name__ == '__main__':
    main(sys.argv[1:])
