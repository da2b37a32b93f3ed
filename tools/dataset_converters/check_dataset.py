# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Check a converted dataset: pairs exist, sizes match, labels in range.

Examples::

    python tools/dataset_converters/check_dataset.py \
        --type CamVidDataset --data-root demo/camvid_mini --splits train val
    python tools/dataset_converters/check_dataset.py --config CONFIG.py \
        [--data-root DATA_ROOT]

Exits with status 1 and a message naming the first bad file.
"""
import argparse
import sys
import time

import mmseg_attnkd  # noqa: F401  (registers the datasets)
from mmseg.registry import DATASETS
from mmseg_attnkd.datasets import check_seg_dataset


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
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
        raise SystemExit('Give --config, or both --type and --data-root.')
    for split in args.splits:
        yield split, dict(
            type=args.type, data_root=args.data_root, pipeline=[],
            data_prefix=dict(img_path=f'img_dir/{split}',
                             seg_map_path=f'ann_dir/{split}'))


def main(argv=None) -> dict:
    args = parse_args(argv)
    results = {}
    for name, ds_cfg in _dataset_cfgs(args):
        start = time.time()
        try:
            dataset = DATASETS.build(ds_cfg)
            stats = check_seg_dataset(dataset)
        except (FileNotFoundError, ValueError) as err:
            print(f'[{name}] FAILED: {err}', file=sys.stderr)
            raise SystemExit(1)
        print(f'[{name}] OK: {stats["num_checked"]} samples, '
              f'{len(dataset.metainfo["classes"])} classes, '
              f'{stats["num_pixels_ignored"]} ignored pixels '
              f'({time.time() - start:.1f}s)')
        results[name] = stats
    return results


if __name__ == '__main__':
    main(sys.argv[1:])
