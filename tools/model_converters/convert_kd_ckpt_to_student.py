# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Export the student of a distillation checkpoint as a plain MMSeg model.

The output holds only ``meta`` and ``state_dict`` with the student's own
parameter names, so ``mmseg.apis.init_model(student_cfg, out)`` and
``tools/test.py STUDENT_CONFIG out`` load it with MMSeg alone.

Examples::

    # student taken from the distillation config's model.architecture
    python tools/model_converters/convert_kd_ckpt_to_student.py \\
        work_dirs/attnfd/iter_80000.pth student.pth \\
        --config configs/attnfd/<distill config>.py
    # or checked against an explicit MMSeg student config
    python tools/model_converters/convert_kd_ckpt_to_student.py \\
        work_dirs/attnfd/iter_80000.pth student.pth \\
        --student-config mmseg::deeplabv3plus/<r18 config>.py
"""
import argparse
import sys

import mmseg_attnkd  # noqa: F401  (compat fixes + registers components)
from mmseg_attnkd.utils import (build_segmentor,
                                convert_kd_checkpoint_to_student,
                                get_student_model_cfg, load_config)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Keep only the student of a distillation checkpoint')
    parser.add_argument('src', help='distillation checkpoint (.pth)')
    parser.add_argument('dst', help='output plain MMSeg checkpoint (.pth)')
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        '--config', help='distillation config; the student is its '
        'model.architecture')
    group.add_argument(
        '--student-config', help='MMSeg config of the student model')
    parser.add_argument(
        '--force', action='store_true',
        help='write the file even if keys are missing, unexpected or '
        'shape-mismatched')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = load_config(args.config or args.student_config)
    student_cfg = get_student_model_cfg(cfg)
    student = build_segmentor(student_cfg)
    report = convert_kd_checkpoint_to_student(
        args.src, args.dst, student, force=args.force,
        cfg_text=None if args.config else cfg.pretty_text)
    status = 'OK' if report.ok else 'FORCED despite mismatch'
    print(f'[{status}] {report.summary(limit=20)}')
    n = len(student.state_dict())
    print(f'wrote {args.dst} ({n} student tensors)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
