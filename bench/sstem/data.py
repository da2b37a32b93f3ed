# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The ssTEM study's data: the 20 sections converted once (train 0-11, val
12-15, test 16-19) and the configs' dataloaders on them at the run's crop.
"""
import copy
import json
import os
import os.path as osp
from typing import Tuple

from bench.lib import common


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
def prepare_data(args) -> str:
    """Convert the 20 sections once (train 0-11, val 12-15, test 16-19).

    A ``--data-dir`` passed by the user that already holds
    ``img_dir/{train,val,test}`` and was not converted by this script is
    used as it is; the default cache without its ``.complete`` stamp (an
    interrupted conversion) is converted again.

    Returns:
        str: The converted root (``--data-dir``, default
        ``bench/cache/sstem-scale<scale>``).
    """
    from mmseg_attnkd.datasets.converters import convert_drosophila_sstem
    from mmseg_attnkd.datasets.converters.drosophila_sstem import \
        SSTEM_STUDY_SPLIT
    out = args.data_dir
    stamp = json.dumps(dict(scale=args.scale, split=SSTEM_STUDY_SPLIT),
                       sort_keys=True)
    done = osp.join(out, '.complete')
    if osp.isfile(done):
        with open(done) as f:
            if f.read().strip() == stamp:
                return out
        raise SystemExit(f'{out} holds another conversion (see its '
                         '.complete); pass another --data-dir.')
    if getattr(args, 'data_dir_given', True) and all(
            osp.isdir(osp.join(out, 'img_dir', split))
            for split in ('train', 'val', 'test')):
        print(f'[data] using the converted data in {out} as it is',
              flush=True)
        return out
    if not osp.isdir(args.data_root):
        raise FileNotFoundError(
            f'--data-root {args.data_root} does not exist; pass the ssTEM '
            'folder with raw/ and labels/ (../shared/data/drosophila_sstem), '
            'or an already converted --data-dir.')
    counts = convert_drosophila_sstem(
        args.data_root, out, train_sections=SSTEM_STUDY_SPLIT['train'],
        val_sections=SSTEM_STUDY_SPLIT['val'],
        test_sections=SSTEM_STUDY_SPLIT['test'], scale=args.scale)
    print(f'[data] converted {counts} at scale {args.scale} -> {out}',
          flush=True)
    common.write_text(done, stamp)
    return out


def image_size(data_dir: str, split: str = 'test') -> Tuple[int, int]:
    from PIL import Image
    names = sorted(os.listdir(osp.join(data_dir, 'img_dir', split)))
    with Image.open(osp.join(data_dir, 'img_dir', split, names[0])) as img:
        return img.size[1], img.size[0]  # (H, W)


def dataset_cfg(cfg: dict, data_dir: str, args) -> dict:
    """The dataloaders and evaluators of a ``configs/sstem256/`` config
    (``cfg``, a dict) on the converted sections in ``data_dir``, at their
    size, with the run's crop, batch and dataloader workers."""
    # keep the converted size (a --data-dir converted elsewhere may have
    # another scale than --scale)
    h, w = image_size(data_dir, 'train')
    img_scale = (w, h)
    out = {}
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = copy.deepcopy(cfg[key])
        loader['dataset']['data_root'] = data_dir
        loader['num_workers'] = args.workers
        loader['persistent_workers'] = args.workers > 0
        for step in loader['dataset']['pipeline']:
            if step['type'] in ('RandomResize', 'Resize'):
                step['scale'] = img_scale
            if step['type'] == 'RandomCrop':
                step['crop_size'] = tuple(args.crop)
        out[key] = loader
    out['train_dataloader']['batch_size'] = args.batch
    out['val_evaluator'] = copy.deepcopy(cfg['val_evaluator'])
    out['test_evaluator'] = copy.deepcopy(cfg['test_evaluator'])
    return out
