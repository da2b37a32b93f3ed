# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Check an exported graph against PyTorch on real images.

For every image both runtimes get the same input tensor; the report holds
``max |logit_onnx - logit_torch|`` and the share of pixels whose label
(argmax) is equal. A ``labels`` graph has no logits output, so the check
runs a copy of the graph in which the tensor feeding the argmax is also an
output: the numbers are those of the very graph that was written.
"""
import glob
import os
import os.path as osp
from dataclasses import asdict, dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from .errors import VerificationError, import_optional
from .runtime import image_to_input, input_hw, ort_session, read_image
from .wrapper import SegmentorExportWrapper

__all__ = ['DEMO_IMAGE_DIR', 'ImageCheck', 'VerifyReport', 'default_images',
           'verify_onnx']

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: The bundled CamVid sample (``demo/camvid_mini``), validation split.
DEMO_IMAGE_DIR = osp.join(_REPO, 'demo', 'camvid_mini', 'img_dir', 'val')
_LOGITS_COPY = '__verify_logits'


@dataclass
class ImageCheck:
    """One image: input size, largest logit difference, label agreement.

    ``max_abs_logit`` (largest PyTorch ``|logit|``) puts the difference in
    scale.
    """
    image: str
    shape: Tuple[int, int]
    max_abs_diff: float
    agreement: float
    max_abs_logit: float = 0.0


@dataclass
class VerifyReport:
    """onnxruntime vs PyTorch over a set of images.

    Attributes:
        onnx: The checked file.
        atol: Largest allowed logit difference.
        min_agreement: Smallest allowed share of equal labels per image.
        checks: One :class:`ImageCheck` per image.
    """
    onnx: str
    atol: float
    min_agreement: float
    checks: List[ImageCheck] = field(default_factory=list)

    @property
    def max_abs_diff(self) -> float:
        return max((c.max_abs_diff for c in self.checks), default=0.0)

    @property
    def worst_agreement(self) -> float:
        return min((c.agreement for c in self.checks), default=1.0)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and self.max_abs_diff <= self.atol and \
            self.worst_agreement >= self.min_agreement

    def summary(self) -> str:
        """One line: the two numbers, the thresholds, pass or fail."""
        status = 'PASSED' if self.passed else 'FAILED'
        return (f'{status}: onnxruntime vs PyTorch on {len(self.checks)} '
                f'image(s): max |delta logit| = {self.max_abs_diff:.3g} '
                f'(limit {self.atol:g}), equal labels >= '
                f'{100 * self.worst_agreement:.4f}% of pixels per image '
                f'(limit {100 * self.min_agreement:g}%)')

    def to_dict(self) -> dict:
        out = asdict(self)
        out.update(max_abs_diff=self.max_abs_diff,
                   worst_agreement=self.worst_agreement, passed=self.passed)
        return out


def default_images(num: int = 2) -> List[str]:
    """The first ``num`` validation images of the bundled demo sample.

    Raises:
        FileNotFoundError: The sample is not there (an installed copy of the
            package without the repository): pass images explicitly.
    """
    files = sorted(glob.glob(osp.join(DEMO_IMAGE_DIR, '*.png')))
    if not files:
        raise FileNotFoundError(
            f'no bundled demo images under {DEMO_IMAGE_DIR}; pass image '
            'files to verify with (--img).')
    return files[:num]


def _logits_tensor_name(model) -> str:
    """Name of the logits tensor feeding the ``labels`` output."""
    onnx = import_optional('onnx')
    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    types = {v.name: v.type.tensor_type for v in
             list(graph.value_info) + list(graph.output) + list(graph.input)}
    producer = {out: node for node in graph.node for out in node.output}
    queue, seen = [graph.output[0].name], set()
    while queue:  # breadth-first from the output towards the input
        name = queue.pop(0)
        if name in seen or name not in producer:
            continue
        seen.add(name)
        ttype = types.get(name)
        node = producer[name]
        if ttype is not None and \
                ttype.elem_type == onnx.TensorProto.FLOAT and \
                len(ttype.shape.dim) == 4:
            # a one-channel head thresholds sigmoid(logits)
            return node.input[0] if node.op_type == 'Sigmoid' else name
        queue.extend(node.input)
    raise ValueError('cannot find the float (N, C, H, W) logits that the '
                     'labels output is computed from')


def _with_logits_output(path: str) -> Tuple[bytes, str]:
    """Serialized copy of a labels graph that also outputs its logits."""
    onnx = import_optional('onnx')
    model = onnx.load(path)
    if model.graph.output[0].type.tensor_type.elem_type == \
            onnx.TensorProto.FLOAT:
        return model.SerializeToString(), model.graph.output[0].name
    name = _logits_tensor_name(model)
    # an Identity keeps the graph's own tensor untouched
    model.graph.node.append(
        onnx.helper.make_node('Identity', [name], [_LOGITS_COPY]))
    model.graph.output.append(onnx.helper.make_tensor_value_info(
        _LOGITS_COPY, onnx.TensorProto.FLOAT, None))
    return model.SerializeToString(), _LOGITS_COPY


def verify_onnx(onnx_path: str,
                segmentor: nn.Module,
                images: Optional[Sequence[str]] = None,
                atol: float = 1e-3,
                min_agreement: float = 0.9999,
                strict: bool = True,
                threads: Optional[int] = None) -> VerifyReport:
    """Run onnxruntime and PyTorch on images and compare.

    A fixed-size graph gets every image resized to its input size; a
    dynamic one gets each image at its own size.

    Args:
        onnx_path: Graph written by
            :func:`~mmseg_attnkd.deployment.export_segmentor`.
        segmentor: The PyTorch segmentor it was exported from.
        images: Image files (default: :func:`default_images`).
        atol: Largest allowed ``max |delta logit|`` (float32: 1e-3).
        min_agreement: Smallest allowed share of equal labels per image.
        strict: Raise when a check fails.
        threads: onnxruntime intra-op threads.

    Returns:
        VerifyReport: Per-image numbers and the overall verdict.

    Raises:
        VerificationError: ``strict`` and the check failed.
    """
    images = list(images) if images else default_images()
    serialized, logits_name = _with_logits_output(onnx_path)
    session = ort_session(serialized, threads)
    size = input_hw(session)
    wrapper = SegmentorExportWrapper(segmentor.eval(), 'logits')
    report = VerifyReport(onnx_path, float(atol), float(min_agreement))
    for path in images:
        x = image_to_input(read_image(path), size)
        got = session.run([logits_name], {session.get_inputs()[0].name: x})[0]
        with torch.no_grad():
            ref = wrapper.logits(torch.from_numpy(x)).numpy()
        if got.shape != ref.shape:
            raise VerificationError(
                f'onnxruntime returned logits of shape {got.shape}, PyTorch '
                f'{ref.shape}, for {path}')
        ref_t, got_t = torch.from_numpy(ref), torch.from_numpy(got)
        same = (wrapper.labels(ref_t) == wrapper.labels(got_t)).float()
        report.checks.append(ImageCheck(
            image=path, shape=tuple(x.shape[2:]),
            max_abs_diff=float(np.abs(got - ref).max()),
            agreement=float(same.mean()),
            max_abs_logit=float(np.abs(ref).max())))
    if strict and not report.passed:
        raise VerificationError(
            f'{onnx_path} does not match PyTorch: {report.summary()}',
            report)
    return report
