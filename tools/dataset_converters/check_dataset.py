# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Check a converted dataset: pairs exist, sizes match, labels in range.

Examples::

    python tools/dataset_converters/check_dataset.py \
        --type CamVidDataset --data-root demo/camvid_mini --splits train val
    python tools/dataset_converters/check_dataset.py --config CONFIG.py \
        [--data-root DATA_ROOT]

Exits with status 1 and one line naming the first bad file (or the bad
option and what to pass instead).
"""
import os.path as osp
import sys
import time

import mmseg_attnkd  # noqa: F401  (registers the datasets)
from mmseg.registry import DATASETS
from mmseg_attnkd.datasets import check_seg_dataset
from mmseg_attnkd.datasets.converters.io_utils import (ConverterArgumentParser,
                                                       one_line)

PROG = 'check_dataset.py'


def parse_args(argv=None):
    parser = ConverterArgumentParser(prog=PROG,
                                     description=__doc__.split('\n')[0])
    parser.add_argument('--config', help='check the datasets of the '
                        'train/val/test dataloaders of this config')
    parser.add_argument('--type', help='dataset type, e.g. CamVidDataset')
    parser.add_argument('--data-root', help='root with img_dir/, ann_dir/ '
                        '(with --config: overrides the config\'s data_root)')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'])
    return parser.parse_args(argv)


def _dataset_cfgs(args):
    if args.config:
        from mmengine.config import Config
        if not osp.isfile(args.config):
            raise FileNotFoundError(
                f'--config {args.config!r} does not exist; pass the path of '
                'a config file (e.g. configs/_base_/datasets/camvid.py).')
        cfg = Config.fromfile(args.config)
        for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            loader = cfg.get(key)
            if loader:
                ds_cfg = dict(loader['dataset'], pipeline=[],
                              lazy_init=False)
                if args.data_root:
                    ds_cfg['data_root'] = args.data_root
                yield key, ds_cfg
        return
    if not (args.type and args.data_root):
        raise ValueError('give --config CONFIG, or both --type (e.g. '
                         'CamVidDataset) and --data-root.')
    if DATASETS.get(args.type) is None:
        import difflib
        known = sorted(DATASETS.module_dict)
        close = difflib.get_close_matches(args.type, known, n=3, cutoff=0.3)
        raise ValueError(
            f'--type {args.type!r} is not a registered dataset; pass a '
            f'dataset class name such as {", ".join(close or known[:3])} '
            '(this project adds CamVidDataset, DrosophilaSSTEMDataset, '
            'MedSegCovidCTDataset, MedSegCovidCT3ClassDataset).')
    for split in args.splits:
        yield split, dict(
            type=args.type, data_root=args.data_root, pipeline=[],
            data_prefix=dict(img_path=f'img_dir/{split}',
                             seg_map_path=f'ann_dir/{split}'))


def _fail(text: str):
    print(f'{PROG}: error: {text}', file=sys.stderr)
    raise SystemExit(1)


def main(argv=None) -> dict:
    args = parse_args(argv)
    results = {}
    try:
        cfgs = list(_dataset_cfgs(args))
    except (OSError, ValueError, SyntaxError) as err:
        _fail(one_line(err))
    for name, ds_cfg in cfgs:
        start = time.time()
        try:
            dataset = DATASETS.build(ds_cfg)
            stats = check_seg_dataset(dataset)
        except (OSError, ValueError) as err:
            _fail(f'[{name}] FAILED: {one_line(err)}')
        print(f'[{name}] OK: {stats["num_checked"]} samples, '
              f'{len(dataset.metainfo["classes"])} classes, '
              f'{stats["num_pixels_ignored"]} ignored pixels '
              f'({time.time() - start:.1f}s)')
        results[name] = stats
    return results


if __name__ == '__main__':
    main(sys.argv[1:])
