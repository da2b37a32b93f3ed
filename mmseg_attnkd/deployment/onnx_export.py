# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Export a plain MMSeg segmentor (or the axial teacher output) to ONNX.

:func:`export_segmentor` writes the graph of
:class:`~mmseg_attnkd.deployment.wrapper.SegmentorExportWrapper` with
``torch.onnx.export`` and stores how to feed it in the ONNX metadata;
:func:`export_onnx` is the one-call path from a config and a converted
checkpoint, verification with onnxruntime included.

When the export fails, :class:`~mmseg_attnkd.deployment.errors.
OnnxExportError` names the module responsible: the operator named by the
exporter is mapped back to the module that calls it
(:func:`~mmseg_attnkd.deployment.op_scope.find_op_callers`), and an error
raised while tracing is attributed to the innermost module of the model on
its traceback.
"""
import json
import os
import os.path as osp
import time
import traceback
import warnings
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from .errors import OnnxExportError, import_optional
from .model_loading import init_export_model
from .op_scope import describe_module, find_op_callers, op_names_in
from .wrapper import SegmentorExportWrapper, input_size_of

__all__ = ['EXPORTERS', 'ExportResult', 'export_segmentor', 'export_onnx',
           'onnx_metadata', 'dynamic_shape_limits']

#: ``'dynamo'``: ``torch.export``-based exporter (torch's default since
#: 2.9; needs ``onnxscript``). ``'torchscript'``: the legacy tracer.
EXPORTERS = ('torchscript', 'dynamo')
DEFAULT_EXPORTER = 'torchscript'
#: Opset of the legacy exporter (every op of the supported models has a
#: conversion there; onnxruntime >= 1.14 runs it).
DEFAULT_OPSET = 17
INPUT_NAME = 'image'
#: Metadata key prefix in the ``.onnx`` file.
META_PREFIX = 'mmseg_attnkd.'


@dataclass
class ExportResult:
    """What :func:`export_onnx` wrote and how it checked it.

    Attributes:
        path: The ``.onnx`` file.
        shape: ``(H, W)`` of the example input (the fixed input size unless
            ``dynamic``).
        dynamic: Batch, height and width are dynamic axes.
        output: ``'logits'`` or ``'labels'``.
        exporter: ``'torchscript'`` or ``'dynamo'``.
        opset: ONNX opset of the graph.
        seconds: Time spent in ``torch.onnx.export``.
        notes: Limits of a dynamic graph (see
            :func:`dynamic_shape_limits`); empty when there are none.
        verification: The verification report (``None`` if skipped).
    """
    path: str
    shape: Tuple[int, int]
    dynamic: bool
    output: str
    exporter: str
    opset: int
    seconds: float
    notes: List[str] = field(default_factory=list)
    verification: Optional[object] = field(default=None, repr=False)

    def to_dict(self) -> dict:
        out = asdict(self)
        out['verification'] = (self.verification.to_dict()
                               if self.verification is not None else None)
        return out


def onnx_metadata(wrapper: SegmentorExportWrapper, shape: Tuple[int, int],
                  dynamic: bool) -> Dict[str, str]:
    """Key/value strings stored in the ``.onnx`` file (input contract,
    classes, palette), so a runtime needs nothing but the file."""
    seg = wrapper.segmentor
    meta = getattr(seg, 'dataset_meta', None) or {}
    head = seg.decode_head
    base = getattr(head, 'base_head', None)
    data = {
        'input': wrapper.input_description,
        'input_shape': 'N x 3 x H x W (dynamic)' if dynamic else
        f'N x 3 x {shape[0]} x {shape[1]}',
        'output': wrapper.output,
        'mean': json.dumps(wrapper.mean.flatten().tolist()),
        'std': json.dumps(wrapper.std.flatten().tolist()),
        'num_classes': str(wrapper.num_classes),
        'decode_head': type(head).__name__ +
        (f'({type(base).__name__})' if base is not None else ''),
    }
    if meta.get('classes'):
        data['classes'] = json.dumps(list(meta['classes']))
    if meta.get('palette'):
        data['palette'] = json.dumps([list(p) for p in meta['palette']])
    return {META_PREFIX + k: v for k, v in data.items()}


def dynamic_shape_limits(wrapper: nn.Module,
                         example: torch.Tensor) -> List[str]:
    """Input sizes a dynamic graph of ``wrapper`` stays exact for.

    Axial attention looks up its relative-position tables differently for
    an axis no longer than ``span`` (a slice of the table) and a longer one
    (resampled or windowed table). Tracing records the branch taken for the
    example, so a dynamic graph is exact only for inputs whose attended
    axes fall on the same side of ``span``. Every module with an int
    ``span`` and an ``axis`` attribute (``AxialAttention1d``) is probed.

    Args:
        wrapper: The module that is exported.
        example: Its example input ``(1, 3, H, W)``.

    Returns:
        list[str]: One condition per attended axis, e.g. ``'logit height
        <= 64 (input height <= ~256)'``; empty without axial attention.
    """
    seen = {}
    handles = []
    for name, module in wrapper.named_modules():
        span, axis = getattr(module, 'span', None), getattr(module, 'axis',
                                                             None)
        if isinstance(span, int) and axis in ('height', 'width'):

            def hook(mod, args, span=span, axis=axis):
                x = args[0]
                length = int(x.shape[2 if axis == 'height' else 3])
                seen.setdefault((axis, span), length)

            handles.append(module.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            wrapper(example)
    finally:
        for handle in handles:
            handle.remove()
    limits = []
    for (axis, span), length in sorted(seen.items()):
        full = int(example.shape[2 if axis == 'height' else 3])
        ratio = full / max(length, 1)
        if length <= span:
            limits.append(f'logit {axis} <= {span} (input {axis} <= '
                          f'~{int(span * ratio)})')
        else:
            limits.append(f'logit {axis} > {span} (input {axis} > '
                          f'~{int(span * ratio)})')
    return limits


def _exception_chain(err: BaseException) -> List[BaseException]:
    chain, seen = [], set()
    while err is not None and id(err) not in seen:
        chain.append(err)
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return chain


def _innermost_module_on_traceback(model: nn.Module,
                                   err: BaseException) -> Optional[str]:
    """Dotted name of the innermost ``model`` submodule whose code raised."""
    names = {id(m): n for n, m in model.named_modules()}
    found = None
    for exc in _exception_chain(err):
        innermost = None
        for frame, _ in traceback.walk_tb(exc.__traceback__):
            owner = frame.f_locals.get('self')
            if owner is not None and id(owner) in names:
                innermost = names[id(owner)]
        if innermost is not None:
            # the original (deepest) exception is last in the chain
            found = innermost
    return found


def _first_line(err: BaseException, limit: int = 300) -> str:
    text = str(err).strip().splitlines()
    line = text[0] if text else type(err).__name__
    return line if len(line) <= limit else line[:limit] + '...'


def explain_export_failure(wrapper: nn.Module, example: torch.Tensor,
                           err: BaseException) -> OnnxExportError:
    """Turn an exporter exception into an error that names the module.

    Args:
        wrapper: The module that was exported.
        example: Its example input ``(N, 3, H, W)``.
        err: What ``torch.onnx.export`` raised.
    """
    ops = []
    for exc in _exception_chain(err):
        for op in op_names_in(str(exc)):
            if op not in ops:
                ops.append(op)
    callers = find_op_callers(wrapper, (example, ), ops) if ops else {}
    for op in ops:
        if op in callers:
            where = ', '.join(describe_module(wrapper, n)
                              for n in callers[op][:3])
            return OnnxExportError(
                f'operator {op} does not export to ONNX; it is called in '
                f'{where}. Replace it there with exportable ops (or register '
                f'an ONNX conversion for it). Exporter said: '
                f'{_first_line(err)}')
    module = _innermost_module_on_traceback(wrapper, err)
    if module is not None:
        return OnnxExportError(
            f'ONNX export failed in module {describe_module(wrapper, module)}'
            f': {_first_line(_exception_chain(err)[-1])}')
    return OnnxExportError(
        'ONNX export failed and no module of the model could be blamed '
        f'(operators named: {", ".join(ops) or "none"}): {_first_line(err)}')


def _dynamic_spec(output: str) -> Dict[str, Dict[int, str]]:
    spec = {INPUT_NAME: {0: 'batch', 2: 'height', 3: 'width'}}
    spec[output] = {0: 'batch', 2: 'height', 3: 'width'} \
        if output == 'logits' else {0: 'batch', 1: 'height', 2: 'width'}
    return spec


def _run_exporter(wrapper: nn.Module, example: torch.Tensor, out: str,
                  dynamic: bool, exporter: str, opset: int) -> None:
    kwargs = dict(input_names=[INPUT_NAME], output_names=[wrapper.output],
                  opset_version=opset)
    with warnings.catch_warnings():
        # the legacy exporter's deprecation notice and tracer warnings about
        # Python values are expected here; real problems raise
        warnings.simplefilter('ignore')
        if exporter == 'torchscript':
            torch.onnx.export(
                wrapper, (example, ), out, dynamo=False,
                dynamic_axes=_dynamic_spec(wrapper.output)
                if dynamic else None,
                do_constant_folding=True, **kwargs)
        else:
            import_optional('onnxscript')
            dims = None
            if dynamic:
                dim = torch.export.Dim.DYNAMIC
                dims = ({0: dim, 2: dim, 3: dim}, )
            program = torch.onnx.export(
                wrapper, (example, ), None, dynamo=True,
                dynamic_shapes=dims, external_data=False, optimize=True,
                **kwargs)
            program.save(out, external_data=False)


def export_segmentor(segmentor: nn.Module,
                     out: str,
                     shape: Optional[Tuple[int, int]] = None,
                     dynamic: bool = False,
                     output: str = 'logits',
                     exporter: str = DEFAULT_EXPORTER,
                     opset: Optional[int] = None) -> ExportResult:
    """Write ``segmentor`` as an ONNX graph (image in, logits/labels out).

    Args:
        segmentor: MMSeg ``EncoderDecoder`` (eval mode), e.g. from
            :func:`~mmseg_attnkd.deployment.init_export_model`.
        out: Output ``.onnx`` path.
        shape: ``(H, W)`` of the input (default: the data preprocessor's
            ``size``, else 512x512). With ``dynamic`` it is only the
            example used for tracing.
        dynamic: Make batch, height and width dynamic axes.
        output: ``'logits'`` (``(N, C, H, W)`` float32) or ``'labels'``
            (``(N, H, W)`` int64).
        exporter: ``'torchscript'`` (default) or ``'dynamo'``.
        opset: ONNX opset (default 17 for ``torchscript``, the exporter's
            own default for ``dynamo``).

    Returns:
        ExportResult: Without ``verification`` (see :func:`export_onnx`).

    Raises:
        OnnxExportError: An operator or module does not export; the
            message names the module.
        MissingDependencyError: ``onnx`` (or ``onnxscript``) is missing.
    """
    if exporter not in EXPORTERS:
        raise ValueError(f'exporter must be one of {EXPORTERS}, '
                         f'got {exporter!r}')
    onnx = import_optional('onnx')
    wrapper = SegmentorExportWrapper(segmentor.eval(), output).eval()
    shape = tuple(int(s) for s in (shape or input_size_of(segmentor)))
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f'shape must be (H, W) with positive sizes, '
                         f'got {shape}')
    if opset is None and exporter == 'torchscript':
        opset = DEFAULT_OPSET
    # a deterministic, image-like example; its values do not matter
    gen = torch.Generator().manual_seed(0)
    example = torch.rand((1, 3) + shape, generator=gen) * 255
    out = os.fspath(out)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    start = time.perf_counter()
    try:
        with torch.no_grad():
            _run_exporter(wrapper, example, out, dynamic, exporter, opset)
    except Exception as err:  # noqa: BLE001  (mapped to a clear error)
        if osp.exists(out):
            os.remove(out)
        raise explain_export_failure(wrapper, example, err) from err
    seconds = time.perf_counter() - start
    notes = dynamic_shape_limits(wrapper, example) if dynamic else []
    if notes:
        warnings.warn(
            f'{out}: axial attention was traced at {shape[0]}x{shape[1]}; '
            'the dynamic graph is exact only while '
            f'{" and ".join(notes)}. Export with --shape in that range '
            'for your inputs, or export one fixed-size graph per size.')
    model = onnx.load(out)
    onnx.checker.check_model(model)
    meta = onnx_metadata(wrapper, shape, dynamic)
    if notes:
        meta[META_PREFIX + 'dynamic_limits'] = ' and '.join(notes)
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, out)
    opset = next((o.version for o in model.opset_import
                  if o.domain in ('', 'ai.onnx')), opset)
    return ExportResult(out, shape, dynamic, output, exporter, int(opset),
                        seconds, notes)


def export_onnx(config,
                checkpoint: Optional[str],
                out: str,
                shape: Optional[Tuple[int, int]] = None,
                dynamic: bool = False,
                output: str = 'logits',
                verify: bool = True,
                images: Optional[Sequence[str]] = None,
                atol: float = 1e-3,
                min_agreement: float = 0.9999,
                exporter: str = DEFAULT_EXPORTER,
                opset: Optional[int] = None,
                strict: bool = True) -> ExportResult:
    """Config + converted checkpoint -> verified ``.onnx`` file.

    Args:
        config: Plain MMSeg config (path, ``Config`` or dict); for the
            axial teacher output the config written by
            ``convert_axial_ckpt_to_refine_head.py``.
        checkpoint: Plain checkpoint (``None``: random weights).
        out: Output ``.onnx`` path.
        shape, dynamic, output, exporter, opset: See
            :func:`export_segmentor`.
        verify: Compare onnxruntime with PyTorch on ``images``.
        images: Image files for the check (default: the bundled demo
            sample, see :func:`~mmseg_attnkd.deployment.verify.
            default_images`).
        atol: Largest allowed ``max |logit_onnx - logit_torch|``.
        min_agreement: Smallest allowed share of pixels with equal labels
            (per image).
        strict: Raise :class:`VerificationError` when a check fails
            (otherwise only report it).

    Returns:
        ExportResult: With ``verification`` when ``verify``.
    """
    segmentor = init_export_model(config, checkpoint)
    result = export_segmentor(segmentor, out, shape, dynamic, output,
                              exporter, opset)
    if verify:
        from .verify import verify_onnx
        result.verification = verify_onnx(
            result.path, segmentor, images, atol=atol,
            min_agreement=min_agreement, strict=strict)
    return result
