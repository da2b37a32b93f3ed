# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Download a released checkpoint by its model-zoo name, hash-checked.

The name is a ``Name`` of ``configs/*/metafile.yml``; its ``Weights`` URL
is resolved against the release base (``--base-url``, else
``$MMSEG_ATTNKD_ZOO_URL``, else this repository's own folder). The file is
kept only if its SHA-256 starts with the 8 hex digits in its name.

Examples::

    python tools/download_model.py --list
    python tools/download_model.py NAME --out-dir checkpoints
    python tools/download_model.py NAME --base-url https://mirror.example/zoo
    python tools/test.py CONFIG checkpoints/<the printed file>
"""
import argparse
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('name', nargs='?', help='model name (see --list)')
    p.add_argument('--out-dir', default='checkpoints')
    p.add_argument('--base-url', help='release base the relative Weights '
                   'paths are joined to (default: this repository)')
    p.add_argument('--configs-dir', default=osp.join(REPO, 'configs'),
                   help='folder of the */metafile.yml files')
    p.add_argument('--list', action='store_true',
                   help='print the released names and exit')
    p.add_argument('--timeout', type=float, default=60.0)
    return p.parse_args(argv)


def main(argv=None) -> int:
    from mmseg_attnkd.release import download, model_zoo
    args = parse_args(argv)
    if args.list or not args.name:
        for path in model_zoo.find_metafiles(args.configs_dir).values():
            for model in model_zoo.load_metafile(path).get('Models') or []:
                if model.get('Weights'):
                    print(model['Name'])
        return 0
    try:
        url = download.model_url(args.name, args.configs_dir, args.base_url)
        path = download.download_checkpoint(url, args.out_dir, args.timeout)
    except download.DownloadError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == '__main__':
    sys.exit(main())
