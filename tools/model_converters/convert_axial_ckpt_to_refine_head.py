# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Export the *teacher output* of axial self-distillation as an MMSeg model.

Writes a checkpoint and the matching MMSeg config in which the decode head is
wrapped by ``AxialRefineHead`` (the trained axial block on top of the head's
logits). Both run with ``tools/test.py`` and ``mmseg.apis.init_model`` /
``inference_model``, and predict exactly the teacher output of training.
(For the free *student output* use ``convert_kd_ckpt_to_student.py``.)

Example::

    python tools/model_converters/convert_axial_ckpt_to_refine_head.py \\
        configs/axial_sd/<config>.py work_dirs/<config>/iter_20000.pth \\
        teacher_output.pth            # also writes teacher_output.py
    python tools/test.py teacher_output.py teacher_output.pth
"""
import argparse
import sys

import mmseg_attnkd  # noqa: F401  (compat fixes + registers components)
from mmseg_attnkd.utils import export_axial_refine


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export the axial teacher output as an MMSeg model')
    parser.add_argument('config', help='axial self-distillation config')
    parser.add_argument('checkpoint', help='checkpoint of that training')
    parser.add_argument('out', help='output checkpoint (.pth)')
    parser.add_argument(
        '--out-config',
        help='output MMSeg config (.py); default: OUT with .py')
    parser.add_argument(
        '--connector', default='axial',
        help='name of the axial connector in the distiller (default: axial)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    ckpt, cfg = export_axial_refine(args.config, args.checkpoint, args.out,
                                    args.out_config, args.connector)
    print(f'wrote {ckpt} and {cfg}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
