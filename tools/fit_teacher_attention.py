# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Fit the teacher-side CBAMs of an AttnFD config on its frozen teacher.

Trains only the CBAMs that AttnFD puts on the teacher's features (the
teacher's weights, BN statistics and dropout stay fixed), with the teacher's
own decode head and segmentation loss on the config's training data, then
writes the file that ``teacher_attention='fitted'`` loads::

    python tools/fit_teacher_attention.py configs/attnfd/<config>.py
    # -> work_dirs/fit_teacher_attention/<teacher>-<stages>/
    #    teacher_attention.pth, the place AttnFD reads by default (keyed by
    #    the teacher's weights and the stage set); then train with
    python tools/train.py configs/attnfd/<config>.py
    # another file: --out FILE here, and there --cfg-options
    #   model.distiller.teacher_attention_ckpt=FILE

The file records the teacher's weight digest, the stages, channels and CBAM
options; the distiller refuses it for any other set-up. An interrupted fit
resumes from the work dir's last checkpoint.
"""
import argparse
import copy
import hashlib
import json
import os
import os.path as osp
import sys

if __package__ in (None, ''):
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmseg_attnkd  # noqa: F401,E402  (compat fixes + registers components)
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmseg_attnkd.models.distillers.teacher_attention import (  # noqa: E402
    default_teacher_attention_path, save_teacher_attention,
    teacher_attention_meta)
from mmseg_attnkd.release.publish import sha256_of_file  # noqa: E402
from mmseg_attnkd.utils import adapt_cfg_to_environment  # noqa: E402
from mmseg_attnkd.utils.config.runtime import (  # noqa: E402
    last_checkpoint_iter_hooks)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='AttnFD distillation config')
    parser.add_argument('--work-dir', help='logs and checkpoints of the fit '
                        '(default: work_dirs/fit_teacher_attention/<config>)')
    parser.add_argument('--out', help='fitted file (default: where AttnFD '
                        'reads it, work_dirs/fit_teacher_attention/'
                        '<teacher>-<stages>/teacher_attention.pth)')
    parser.add_argument('--iters', type=int, default=1000,
                        help='training iterations (default 1000)')
    parser.add_argument('--lr', type=float, default=1e-3,
                        help='Adam learning rate (default 1e-3)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-val', action='store_true',
                        help='skip the validation of the refined teacher')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='overrides of the AttnFD config, e.g. '
        'model.teacher_ckpt=teacher.pth train_dataloader.batch_size=4')
    args = parser.parse_args(argv)
    if args.iters < 1:
        parser.error(f'--iters must be >= 1, got {args.iters}')
    return args


def fit_config(cfg: Config, args: argparse.Namespace) -> Config:
    """A training config for :class:`TeacherAttentionFitter` from ``cfg``."""
    model = copy.deepcopy(cfg.model)
    if not isinstance(model, dict) or 'teacher' not in model:
        raise SystemExit(
            f'{args.config}: model is not a teacher distillation (no '
            'model.teacher); pass an AttnFD distillation config.')
    iters = args.iters
    interval = max(1, iters // 4)
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'fit_teacher_attention',
        osp.splitext(osp.basename(args.config))[0])
    fit = dict(
        default_scope=cfg.get('default_scope', 'mmseg'),
        custom_imports=dict(imports=['mmseg_attnkd'],
                            allow_failed_imports=False),
        model=dict(_scope_='mmrazor', type='TeacherAttentionFitter',
                   distill_model=model),
        work_dir=work_dir,
        train_dataloader=copy.deepcopy(cfg.train_dataloader),
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='Adam', lr=args.lr, weight_decay=0.0)),
        param_scheduler=[
            dict(type='CosineAnnealingLR', T_max=iters, eta_min=args.lr / 100,
                 begin=0, end=iters, by_epoch=False)
        ],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=iters,
                       val_interval=iters),
        default_hooks=last_checkpoint_iter_hooks(min(20, iters), interval),
        log_processor=dict(by_epoch=False),
        env_cfg=copy.deepcopy(cfg.get('env_cfg', dict(
            dist_cfg=dict(backend='gloo')))),
        randomness=dict(seed=args.seed),
        launcher='none',
        resume=osp.isfile(osp.join(work_dir, 'last_checkpoint')),
        load_from=None)
    if not args.no_val and cfg.get('val_dataloader'):
        fit.update(
            val_dataloader=copy.deepcopy(cfg.val_dataloader),
            val_evaluator=copy.deepcopy(cfg.val_evaluator),
            val_cfg=dict(type='ValLoop'))
    return Config(fit)


def fit_settings(cfg: Config, args: argparse.Namespace) -> dict:
    """What a fit depends on: the teacher file's SHA-256, the AttnFD model
    config and the optimisation settings."""
    model = copy.deepcopy(cfg.model)
    teacher_ckpt = model.get('teacher_ckpt')
    digest = sha256_of_file(teacher_ckpt) if teacher_ckpt and osp.isfile(
        teacher_ckpt) else None
    model.pop('teacher_ckpt', None)
    text = Config(dict(model=model)).pretty_text
    return dict(teacher_sha256=digest, iters=args.iters, lr=args.lr,
                seed=args.seed,
                model=hashlib.sha256(text.encode()).hexdigest()[:16])


def check_work_dir(work_dir: str, settings: dict, resume: bool) -> None:
    """Resume only a fit of the same teacher and settings; record them.

    Raises:
        SystemExit: ``work_dir`` holds a fit of another teacher or with
            other settings (or one that did not record them).
    """
    path = osp.join(work_dir, 'fit_settings.json')
    if resume:
        old = None
        if osp.isfile(path):
            with open(path) as f:
                old = json.load(f)
        if old != settings:
            raise SystemExit(
                f'{work_dir} holds a fit of another teacher or with other '
                'settings; pass another --work-dir, or delete that folder '
                'to fit again.')
    os.makedirs(work_dir, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(settings, f, indent=1)


def main(argv=None) -> str:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    fcfg = fit_config(cfg, args)
    check_work_dir(fcfg.work_dir, fit_settings(cfg, args), fcfg.resume)
    adapt_cfg_to_environment(fcfg)
    runner = Runner.from_cfg(fcfg)
    runner.train()
    fitter = runner.model
    metrics = {}
    scalars = runner.message_hub.log_scalars
    if 'val/mIoU' in scalars:
        metrics['val_mIoU_refined_teacher'] = float(
            scalars['val/mIoU'].current())
    meta = teacher_attention_meta(
        fitter.teacher, fitter.sides, fitter.channels, fitter.cbam_options,
        fitted=dict(config=osp.basename(args.config), iters=args.iters,
                    lr=args.lr, seed=args.seed, **metrics))
    out = args.out or default_teacher_attention_path(
        fitter.teacher, fitter.sides, fitter.channels, fitter.cbam_options)
    save_teacher_attention(out, fitter.fitted_state_dict(), meta)
    print(f'fitted teacher attention ({len(fitter.sides)} stages) -> {out}',
          flush=True)
    return out


if __name__ == '__main__':
    main()
