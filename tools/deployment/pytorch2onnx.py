# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Export a (distilled) MMSeg model to ONNX and verify it with onnxruntime.

Takes what the converters write: a plain MMSeg student
(``tools/model_converters/convert_kd_ckpt_to_student.py``) or the axial
teacher output (``convert_axial_ckpt_to_refine_head.py``, whose config wraps
the decode head in ``AxialRefineHead``). The graph takes a float32
``(N, 3, H, W)`` image in the order ``cv2.imread`` returns (BGR, 0-255;
normalisation is inside) and returns logits or labels. After the export,
onnxruntime and PyTorch run on real images (the bundled demo sample unless
``--img`` is given); the tool exits with status 1 when the logits differ by
more than ``--atol`` or fewer than ``--min-agreement`` of the pixels of an
image get the same label.

Examples::

    python tools/deployment/pytorch2onnx.py STUDENT_CONFIG student.pth \\
        --out student.onnx --shape 360 480
    python tools/deployment/pytorch2onnx.py teacher_output.py \\
        teacher_output.pth --out teacher_output.onnx --output labels
"""
import argparse
import json
import os.path as osp
import sys

if __package__ in (None, ''):  # run as a script from anywhere
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

import mmseg_attnkd  # noqa: E402,F401  (compat fixes + registers components)
from mmseg_attnkd.deployment import (EXPORTERS, OUTPUT_KINDS,  # noqa: E402
                                     DeploymentError, export_onnx)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export an MMSeg model to ONNX, verified with '
        'onnxruntime')
    parser.add_argument('config', help='plain MMSeg config of the model')
    parser.add_argument('checkpoint', help='plain MMSeg checkpoint (.pth)')
    parser.add_argument('--out', required=True, help='output .onnx file')
    parser.add_argument(
        '--shape', type=int, nargs=2, metavar=('H', 'W'),
        help='input height and width (default: the config\'s crop size)')
    parser.add_argument(
        '--dynamic', action='store_true',
        help='dynamic batch, height and width (--shape is then only the '
        'tracing example; verification uses each image at its own size)')
    parser.add_argument('--output', choices=OUTPUT_KINDS, default='logits',
                        help='graph output (default: logits)')
    parser.add_argument(
        '--img', nargs='+',
        help='images to verify with (default: two bundled demo images)')
    parser.add_argument('--atol', type=float, default=1e-3,
                        help='largest allowed |logit difference| (1e-3)')
    parser.add_argument(
        '--min-agreement', type=float, default=0.9999,
        help='smallest share of pixels with equal labels (0.9999)')
    parser.add_argument('--no-verify', action='store_true',
                        help='skip the onnxruntime check')
    parser.add_argument('--exporter', choices=EXPORTERS, default=None,
                        help='torch.onnx exporter (default: torchscript)')
    parser.add_argument('--opset', type=int, default=None,
                        help='ONNX opset (default: 17)')
    parser.add_argument('--report', help='also write the result as JSON')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    kwargs = dict(shape=args.shape, dynamic=args.dynamic, output=args.output,
                  verify=not args.no_verify, images=args.img,
                  atol=args.atol, min_agreement=args.min_agreement,
                  opset=args.opset, strict=False)
    if args.exporter:
        kwargs['exporter'] = args.exporter
    try:
        result = export_onnx(args.config, args.checkpoint, args.out, **kwargs)
    except DeploymentError as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    h, w = result.shape
    print(f'wrote {result.path} ({result.exporter} exporter, opset '
          f'{result.opset}, input 1x3x{h}x{w}'
          f'{" dynamic" if result.dynamic else ""}, output {result.output}, '
          f'{result.seconds:.1f} s)')
    for note in result.notes:
        print(f'  dynamic graph exact only while {note}')
    report = result.verification
    if report is not None:
        for check in report.checks:
            print(f'  {osp.basename(check.image)} at {check.shape[0]}x'
                  f'{check.shape[1]}: max |delta logit| '
                  f'{check.max_abs_diff:.3g} (max |logit| '
                  f'{check.max_abs_logit:.3g}), equal labels '
                  f'{100 * check.agreement:.4f}%')
        print(report.summary())
    if args.report:
        with open(args.report, 'w') as f:
            json.dump(result.to_dict(), f, indent=1)
    return 0 if report is None or report.passed else 1


if __name__ == '__main__':
    sys.exit(main())
