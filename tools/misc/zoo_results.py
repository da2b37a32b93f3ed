# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Score released models on their test split and write their metafile
``Results`` (the only writer of those numbers).

Each NAME's released file is fetched and hash-checked as
``tools/download_model.py`` does, loaded with the released config and run
through MMSeg's test loop; mIoU, mAcc and aAcc (2 decimals) replace the
entry's ``Results`` metrics. Regenerate the README tables afterwards with
``tools/misc/gen_model_zoo_table.py``.

Example::

    python tools/misc/zoo_results.py NAME [NAME ...] --cfg-options \\
        test_dataloader.dataset.data_root=../shared/data/camvid_segnet
    python tools/misc/zoo_results.py --all
"""
import argparse
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None) -> argparse.Namespace:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('names', nargs='*', help='model names (metafile Name)')
    p.add_argument('--all', action='store_true',
                   help='every model that has released weights')
    p.add_argument('--configs-dir', default=osp.join(REPO, 'configs'))
    p.add_argument('--checkpoint-dir', default='checkpoints')
    p.add_argument('--base-url', help='release base (see download_model.py)')
    p.add_argument('--cfg-options', nargs='+', action=DictAction,
                   help='e.g. the test data root')
    return p.parse_args(argv)


def main(argv=None) -> int:
    import mmseg_attnkd  # noqa: F401  (registers components)
    from mmseg_attnkd.release import download, evaluate, model_zoo
    args = parse_args(argv)
    names = list(args.names)
    if args.all:
        names += [m['Name'] for p in model_zoo.find_metafiles(
            args.configs_dir).values()
            for m in model_zoo.load_metafile(p)['Models']
            if m.get('Weights') and m['Name'] not in names]
    if not names:
        print('error: name a model or pass --all', file=sys.stderr)
        return 1
    root = osp.dirname(osp.abspath(args.configs_dir))
    for name in names:
        try:
            model, metafile = download.find_model(name, args.configs_dir)
            url = download.model_url(name, args.configs_dir, args.base_url)
            ckpt = download.download_checkpoint(url, args.checkpoint_dir)
        except download.DownloadError as e:
            print(f'error: {e}', file=sys.stderr)
            return 1
        config = model['Config'] if osp.isabs(model['Config']) else \
            osp.join(root, model['Config'])
        metrics = evaluate.test_checkpoint(config, ckpt, args.cfg_options)
        entry = evaluate.record_results(metafile, name, metrics)
        print(f'{name}: {entry["Results"][0]["Metrics"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
