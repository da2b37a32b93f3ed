# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Parameters and FLOPs of teacher, student and student + axial block.

Counts use ``mmengine.analysis`` (one multiply-add = one FLOP) on the
inference forward of each segmentor for a single ``3 x H x W`` image,
without the auxiliary head.

Examples::

    # teacher and student of a distillation config
    python tools/analysis/get_flops.py configs/attnfd/<config>.py \\
        --shape 512 1024
    # plus the student with the axial refinement of an axial-SD config
    python tools/analysis/get_flops.py configs/attnfd/<config>.py \\
        --axial-config configs/axial_sd/<config>.py --shape 512 1024
    # any MMSeg configs (teacher first)
    python tools/analysis/get_flops.py TEACHER.py --student-config STUDENT.py
    # settings changed as in tools/train.py
    python tools/analysis/get_flops.py CONFIG --cfg-options \\
        model.architecture.decode_head.num_classes=19
"""
import argparse
import json
import sys

from mmengine.config import DictAction

import mmseg_attnkd  # noqa: F401  (compat fixes + registers components)
from mmseg_attnkd.analysis import segmentor_complexity
from mmseg_attnkd.analysis.axial_variant import (axial_args_from_cfg,
                                                 with_axial_refine_head)
from mmseg_attnkd.utils import (build_segmentor, get_student_model_cfg,
                                get_teacher_and_student_cfgs, is_distill_cfg,
                                load_config)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Params and FLOPs of distillation models')
    parser.add_argument('config', help='distillation config, or an MMSeg '
                        'config of the teacher')
    parser.add_argument('--student-config', help='student MMSeg config '
                        '(default: the distillation config\'s architecture)')
    parser.add_argument('--axial-config', help='axial self-distillation '
                        'config: adds "student + axial" using its student '
                        'and distiller.axial settings')
    parser.add_argument('--with-axial', action='store_true',
                        help='add "student + axial" with default '
                        'AxialAttention2d settings')
    parser.add_argument('--shape', type=int, nargs='+', default=[512, 1024],
                        help='input H [W] (default 512 1024)')
    parser.add_argument('--json', help='also write the numbers to this file')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of CONFIG as in tools/train.py, e.g. '
        'model.architecture.decode_head.num_classes=19')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    if len(args.shape) not in (1, 2):
        raise ValueError('--shape takes H or H W')
    shape = tuple(args.shape * 2)[:2] if len(args.shape) == 1 \
        else tuple(args.shape)
    cfg = load_config(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    models = {}
    # a distillation, or CONFIG is the teacher's MMSeg config
    if is_distill_cfg(cfg.get('model', {})) or args.student_config:
        models['teacher'], models['student'] = get_teacher_and_student_cfgs(
            cfg, args.student_config or None)
    else:  # one MMSeg model (or a self-distillation's architecture)
        models['model'] = get_student_model_cfg(cfg)
    if args.axial_config:
        axial_cfg = load_config(args.axial_config)
        models['student + axial'] = with_axial_refine_head(
            get_student_model_cfg(axial_cfg), axial_args_from_cfg(axial_cfg))
    elif args.with_axial:
        if 'student' not in models:
            raise ValueError('--with-axial needs a student (a distillation '
                             'config or --student-config)')
        models['student + axial'] = with_axial_refine_head(models['student'])

    results = {}
    for name, model_cfg in models.items():
        model = build_segmentor(model_cfg)
        results[name] = segmentor_complexity(model, shape)
    ref = results.get('teacher')
    print(f'input 1x3x{shape[0]}x{shape[1]}; FLOPs: 1 multiply-add = 1')
    print(f'{"model":<18}{"params":>12}{"FLOPs":>12}{"FLOPs vs teacher":>19}')
    for name, res in results.items():
        rel = f'{100 * res["flops"] / ref["flops"]:.1f}%' if ref else '-'
        print(f'{name:<18}{res["params_str"]:>12}{res["flops_str"]:>12}'
              f'{rel:>19}')
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({k: {kk: (list(vv) if isinstance(vv, tuple) else vv)
                           for kk, vv in v.items()}
                       for k, v in results.items()}, f, indent=2)
    return results


if __name__ == '__main__':
    main()
    sys.exit(0)
