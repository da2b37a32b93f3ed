# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Convert the Drosophila ssTEM raw release to MMSeg layout.

Example::

    python tools/dataset_converters/drosophila_sstem.py \
        --data-root data/groundtruth-drosophila-vnc/stack1 \
        --out-dir data/drosophila_sstem --train-sections 0-15 \
        --test-sections 16-19 [--tile 256]
"""
import argparse
import sys
import time

from mmseg_attnkd.datasets.converters import (convert_drosophila_sstem,
                                              parse_index_ranges)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Drosophila ssTEM (raw/NN.tif + labels/labelsNNNNNNNN.png'
        ') -> MMSeg layout with 5 classes and a split by section index.')
    parser.add_argument('--data-root', required=True,
                        help='folder holding raw/ and labels/')
    parser.add_argument('--out-dir', required=True, help='output root')
    parser.add_argument('--train-sections', default='0-15',
                        help='section indices for train (default 0-15)')
    parser.add_argument('--test-sections', default='16-19',
                        help='section indices for test (default 16-19)')
    parser.add_argument('--tile', type=int, default=None,
                        help='cut sections into TILE x TILE patches')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    start = time.time()
    counts = convert_drosophila_sstem(
        args.data_root, args.out_dir,
        train_sections=parse_index_ranges(args.train_sections),
        test_sections=parse_index_ranges(args.test_sections),
        tile=args.tile)
    print(f'Converted {counts} to {args.out_dir} in '
          f'{time.time() - start:.1f}s')
    return counts


if __name__ == '__main__':
    main(sys.argv[1:])
