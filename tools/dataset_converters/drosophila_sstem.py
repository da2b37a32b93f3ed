# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Convert the Drosophila ssTEM raw release to MMSeg layout.

Examples::

    # the common 16/4 split (train/test, no val)
    python tools/dataset_converters/drosophila_sstem.py \
        --data-root data/groundtruth-drosophila-vnc/stack1 \
        --out-dir data/drosophila_sstem [--tile 256]

    # train 0-11 / val 12-15 / test 16-19 (configs/_base_/datasets/
    # drosophila_sstem.py validates on val), optionally at half size
    python tools/dataset_converters/drosophila_sstem.py \
        --data-root ../shared/data/drosophila_sstem \
        --out-dir data/drosophila_sstem --split study [--scale 0.5]

A bad input ends with one line (what is wrong and what to pass) and exit
status 1 (2 for a bad option).
"""
import sys
import time

from mmseg_attnkd.datasets.converters import (convert_drosophila_sstem,
                                              parse_index_ranges)
from mmseg_attnkd.datasets.converters.drosophila_sstem import \
    SSTEM_STUDY_SPLIT
from mmseg_attnkd.datasets.converters.io_utils import (
    ConverterArgumentParser, check_out_dir, cli_errors, positive_float,
    positive_int)

#: Fixes appended to library messages that name only the problem.
CLI_HINTS = (
    ('exceeds the image size', 'Pass a smaller --tile (at most the section '
     'size after --scale) or drop --tile.'),
    ('Cannot parse', 'Pass the --*-sections options as ranges and commas.'),
    ('Bad range', 'Pass the --*-sections options as ranges and commas.'),
)


def _ranges(indices) -> str:
    return f'{min(indices)}-{max(indices)}'


def parse_args(argv=None):
    parser = ConverterArgumentParser(
        prog='drosophila_sstem.py',
        description='Drosophila ssTEM (raw/NN.tif + labels/labelsNNNNNNNN.png'
        ') -> MMSeg layout with 5 classes and a split by section index.')
    parser.add_argument('--data-root', required=True,
                        help='folder holding raw/ and labels/')
    parser.add_argument('--out-dir', required=True, help='output root')
    parser.add_argument(
        '--split', choices=('16-4', 'study'), default='16-4',
        help='preset section split: "16-4" = train 0-15, test 16-19, no val '
        '(default, the common split); "study" = train '
        f'{_ranges(SSTEM_STUDY_SPLIT["train"])}, val '
        f'{_ranges(SSTEM_STUDY_SPLIT["val"])}, test '
        f'{_ranges(SSTEM_STUDY_SPLIT["test"])}. The --*-sections options '
        'override single splits of the preset.')
    parser.add_argument('--train-sections', default=None,
                        help='section indices for train, e.g. 0-11')
    parser.add_argument('--val-sections', default=None,
                        help='section indices for val, e.g. 12-15 ("none": '
                        'no val split)')
    parser.add_argument('--test-sections', default=None,
                        help='section indices for test, e.g. 16-19')
    parser.add_argument('--tile', type=positive_int, default=None,
                        help='cut sections into TILE x TILE patches')
    parser.add_argument('--scale', type=positive_float, default=1.0,
                        help='resize sections by this factor first (0.5: '
                        '512x512); labels use nearest neighbour')
    return parser.parse_args(argv)


def resolve_split(args) -> dict:
    """The train/val/test section lists of the preset and the overrides."""
    if args.split == 'study':
        split = {k: list(v) for k, v in SSTEM_STUDY_SPLIT.items()}
    else:
        split = dict(train=list(range(16)), val=[], test=list(range(16, 20)))
    for name in ('train', 'val', 'test'):
        spec = getattr(args, f'{name}_sections')
        if spec is None:
            continue
        split[name] = [] if (name == 'val' and spec.lower() == 'none') \
            else parse_index_ranges(spec)
    return split


def main(argv=None) -> dict:
    """Parse ``argv`` and convert; a bad input exits with one line."""
    args = parse_args(argv)
    with cli_errors('drosophila_sstem.py', hints=CLI_HINTS):
        return convert(args)


def convert(args) -> dict:
    check_out_dir(args.out_dir)
    split = resolve_split(args)
    start = time.time()
    counts = convert_drosophila_sstem(
        args.data_root, args.out_dir,
        train_sections=split['train'],
        test_sections=split['test'],
        val_sections=split['val'] or None,
        tile=args.tile,
        scale=args.scale)
    print(f'Converted {counts} to {args.out_dir} in '
          f'{time.time() - start:.1f}s')
    return counts


if __name__ == '__main__':
    main(sys.argv[1:])
