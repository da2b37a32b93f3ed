# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Visualise distillation: CBAM attention, predictions, axial refinement.

``attnfd`` mode (AttnFD distillation config + its checkpoint) writes, per
image:

* ``{name}_stage{i}_{teacher|student}_spatial.png`` - CBAM spatial attention
  over the image; ``..._channels.png`` - feature maps of the channels with
  the highest channel attention; ``{name}_attention.png`` - all stages;
* ``{name}_segmentation.png`` - image, baseline student (with
  ``--baseline-config``), distilled student, teacher, ground truth, in the
  dataset palette.

``axial`` mode (axial self-distillation config + checkpoint) writes
``{name}_axial.png``: image, student output, teacher output and the pixels
where they differ.

Examples::

    python tools/analysis/visualize_attention.py attnfd CONFIG CKPT \\
        --out-dir vis/ --split val --num 4 \\
        --baseline-config BASE.py --baseline-checkpoint BASE.pth
    python tools/analysis/visualize_attention.py attnfd CONFIG CKPT \\
        --out-dir vis/ --img demo.png
    python tools/analysis/visualize_attention.py axial CONFIG CKPT \\
        --out-dir vis/
    # the samples of another data root (as tools/train.py --cfg-options)
    python tools/analysis/visualize_attention.py axial CONFIG CKPT \\
        --out-dir vis/ --cfg-options val_dataloader.dataset.data_root=DIR
"""
import argparse
import os.path as osp
from collections import OrderedDict

from mmengine.config import DictAction

import mmseg_attnkd  # noqa: F401  (compat fixes + registers components)
from mmseg_attnkd.analysis import (attention_figures, axial_predictions,
                                   comparison_figure, difference_figure,
                                   load_dataset_samples, load_image_sample,
                                   predict_mask, save_png)
from mmseg_attnkd.utils import (adapt_cfg_to_environment,
                                build_distill_model, build_segmentor,
                                get_student_model_cfg, load_config)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Attention / prediction figures of distillation runs')
    parser.add_argument('mode', choices=['attnfd', 'axial'])
    parser.add_argument('config', help='distillation config')
    parser.add_argument('checkpoint', help='its checkpoint (tools/train.py)')
    parser.add_argument('--out-dir', required=True, help='PNG folder')
    parser.add_argument('--img', nargs='+', help='image files (default: '
                        'samples of --split)')
    parser.add_argument('--split', default='val',
                        choices=['train', 'val', 'test'])
    parser.add_argument('--num', type=int, default=4,
                        help='number of dataset samples')
    parser.add_argument('--indices', type=int, nargs='+',
                        help='dataset sample indices (instead of --num)')
    parser.add_argument('--topk', type=int, default=4,
                        help='channels with the highest channel attention')
    parser.add_argument('--baseline-config', help='baseline student config')
    parser.add_argument('--baseline-checkpoint',
                        help='baseline student checkpoint')
    parser.add_argument('--no-attention', action='store_true',
                        help='attnfd: only the segmentation comparison')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of CONFIG as in tools/train.py, e.g. '
        'val_dataloader.dataset.data_root=DIR (the samples drawn) or '
        'model.distiller.loss_weight=1')
    return parser.parse_args(argv)


def _palette(cfg, model):
    meta = getattr(model, 'dataset_meta', None) or {}
    if meta.get('palette'):
        return meta['palette']
    for key in ('val_dataloader', 'test_dataloader', 'train_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset') or {}
        palette = (dataset.get('metainfo') or {}).get('palette')
        if palette:
            return palette
    return None


def main(argv=None) -> list:
    args = parse_args(argv)
    if bool(args.baseline_config) != bool(args.baseline_checkpoint):
        raise ValueError('--baseline-config and --baseline-checkpoint go '
                         'together')
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg = adapt_cfg_to_environment(cfg)
    algorithm = build_distill_model(cfg, args.checkpoint)
    if args.img:
        samples = [load_image_sample(p) for p in args.img]
    else:
        samples = load_dataset_samples(cfg, args.split, args.num,
                                       args.indices)
    palette = _palette(cfg, algorithm)
    ignore = 255
    written = []
    if args.mode == 'axial':
        for sample in samples:
            s_pred, t_pred = axial_predictions(algorithm, sample)
            fig, frac = difference_figure(sample, s_pred, t_pred, palette,
                                          ignore)
            path = osp.join(args.out_dir, f'{sample.name}_axial.png')
            written.append(save_png(fig, path))
            print(f'{path}: student/teacher differ on {100 * frac:.2f}% '
                  'of pixels')
        return written

    baseline = None
    if args.baseline_config:
        baseline = build_segmentor(
            get_student_model_cfg(load_config(args.baseline_config)),
            checkpoint=args.baseline_checkpoint)
    for sample in samples:
        if not args.no_attention:
            for name, fig in attention_figures(algorithm, sample,
                                               args.topk).items():
                written.append(save_png(fig, osp.join(args.out_dir, name)))
        preds = OrderedDict()
        if baseline is not None:
            preds['baseline student'] = predict_mask(baseline, sample)
        preds['distilled student'] = predict_mask(algorithm.student, sample)
        preds['teacher'] = predict_mask(algorithm.teacher, sample)
        fig = comparison_figure(sample, preds, palette, ignore)
        written.append(save_png(
            fig, osp.join(args.out_dir, f'{sample.name}_segmentation.png')))
    print(f'wrote {len(written)} PNGs to {args.out_dir}')
    return written


if __name__ == '__main__':
    main()
