# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""List where a teacher and a student can be tapped for distillation.

Runs one dummy forward through both models and prints every candidate tap
(backbone stages, neck, decode-head submodules, the input of ``conv_seg``)
with its output shape on each side, then the suggested AttnFD stage list as
a config snippet.

Examples::

    # a distillation config (teacher = model.teacher, student =
    # model.architecture)
    python tools/analysis/kd_inspect.py configs/attnfd/<config>.py
    # two MMSeg configs: teacher first
    python tools/analysis/kd_inspect.py mmseg::deeplabv3plus/<r101>.py \\
        mmseg::deeplabv3plus/<r18>.py --shape 512 1024
    # check names you plan to use
    python tools/analysis/kd_inspect.py CONFIG --module backbone.layer3
"""
import argparse
import sys

import mmseg_attnkd  # noqa: F401  (compat fixes + registers components)
from mmseg_attnkd.analysis import (ModuleNotFound, format_stage_snippet,
                                   format_tap_table, inspect_taps,
                                   suggest_attnfd_stages)
from mmseg_attnkd.utils import (build_segmentor, get_teacher_and_student_cfgs,
                                is_distill_cfg, load_config)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Candidate distillation taps of a teacher and a student')
    parser.add_argument(
        'config', help='distillation config, or the teacher MMSeg config '
        'when STUDENT_CONFIG is given')
    parser.add_argument('student_config', nargs='?',
                        help='student MMSeg config (optional)')
    parser.add_argument('--shape', type=int, nargs='+', default=None,
                        help='input H [W] (default: crop_size or 512x512)')
    parser.add_argument('--module', nargs='+', default=[],
                        help='extra module names to show (errors list the '
                        'closest existing names)')
    return parser.parse_args(argv)


def _shape(args, cfg) -> tuple:
    if args.shape:
        if len(args.shape) > 2:
            raise ValueError('--shape takes H or H W')
        return tuple(args.shape * 2)[:2] if len(args.shape) == 1 \
            else tuple(args.shape)
    crop = cfg.get('crop_size')
    return tuple(crop) if isinstance(crop, (list, tuple)) and \
        len(crop) == 2 else (512, 512)


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config)
    if args.student_config is None and not is_distill_cfg(
            cfg.get('model', {})):
        raise ValueError(
            f'{args.config} is not a distillation config (no '
            'model.teacher/model.architecture); pass the teacher config '
            'and the student config.')
    teacher_cfg, student_cfg = get_teacher_and_student_cfgs(
        cfg, args.student_config)
    shape = _shape(args, cfg)
    teacher = build_segmentor(teacher_cfg)
    student = build_segmentor(student_cfg)
    rows = inspect_taps(teacher, student, shape, extra=args.module)
    stages = suggest_attnfd_stages(teacher, student, rows)
    marked = [s['student_tap'] for s in stages]
    print(f'input 1x3x{shape[0]}x{shape[1]}; shapes are N x C x H x W\n')
    print(format_tap_table(rows, marked))
    print('\nSuggested AttnFD stages (what stages="auto" resolves to):\n')
    print(format_stage_snippet(stages))
    return dict(rows=rows, stages=stages)


if __name__ == '__main__':
    try:
        main()
    except ModuleNotFound as err:
        print(f'error: {err}', file=sys.stderr)
        sys.exit(2)
