# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""One eval-mode forward that records features with MMRazor's recorders.

The stage distillers use it to read channel counts before they build
connectors; ``tools/analysis/kd_inspect.py`` uses it (through
:mod:`mmseg_attnkd.analysis.module_taps`) to list shapes. A record is what
the distiller's own ``ModuleOutputs``/``ModuleInputs`` recorder would hold
for the same side, so the probe and training can never disagree.
"""
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmrazor.models.task_modules import (ModuleInputsRecorder,
                                         ModuleOutputsRecorder)
from mmseg.models.decode_heads.decode_head import BaseDecodeHead

__all__ = ['record_sides', 'probe_channels', 'probe_shapes',
           'producing_module']


class _HookHandleMixin:
    """Keep the forward-hook handle so the probe leaves no hook behind.

    MMRazor's recorders hook their module for the model's lifetime; a probe
    must not.
    """

    def prepare_from_model(self, model: nn.Module) -> None:
        module = model.get_submodule(self.source)
        self.handle = module.register_forward_hook(self.forward_hook)


class _OutputsProbe(_HookHandleMixin, ModuleOutputsRecorder):
    """``ModuleOutputsRecorder`` with a removable hook."""


class _InputsProbe(_HookHandleMixin, ModuleInputsRecorder):
    """``ModuleInputsRecorder`` with a removable hook."""


def _forward(model: nn.Module, inputs: torch.Tensor) -> None:
    """Backbone, neck, decode head and auxiliary heads of a segmentor."""
    head = getattr(model, 'decode_head', None)
    if hasattr(model, 'extract_feat') and isinstance(head, BaseDecodeHead):
        feats = model.extract_feat(inputs)
        head.forward(feats)
        aux = getattr(model, 'auxiliary_head', None)
        if aux is not None:
            for aux_head in (aux if isinstance(aux, nn.ModuleList) else
                             [aux]):
                aux_head.forward(feats)
    else:
        model(inputs, mode='tensor')


def _probe_input(model: nn.Module, input_size: Tuple[int, int],
                 batch_size: int = 1) -> torch.Tensor:
    """Seeded ``[B, C_in, H, W]`` noise on the model's device (``C_in`` =
    input channels of the first convolution)."""
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device('cpu')
    first_conv = next(
        (m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)),
        None)
    in_channels = first_conv.in_channels if first_conv is not None else 3
    gen = torch.Generator().manual_seed(0)
    return torch.randn(batch_size, in_channels, *input_size,
                       generator=gen).to(device)


def producing_module(model: nn.Module, name: str,
                     input_size: Tuple[int, int] = (64, 64)) -> \
        Optional[str]:
    """The outermost submodule of ``name`` whose output *is* its output.

    Some backbones return one tensor in eval mode and a tuple in training
    (PIDNet: ``(P, fused, D)`` in training, the fused map in eval), so
    ``data_idx`` on the backbone's output cannot pick the same feature in
    both modes; the submodule that computes the eval-mode output (PIDNet:
    ``backbone.dfm``) gives it in both.

    Args:
        model: The segmentor.
        name: Dotted module path, e.g. ``'backbone'``.
        input_size: ``(H, W)`` of the probe input.

    Returns:
        str or None: The dotted path of that submodule; None when the module
        returns several tensors in eval mode, or no submodule returns its
        output tensor unchanged (e.g. its last operation is functional).
    """
    module = model.get_submodule(name)
    seen: Dict[int, str] = {}
    handles = []
    for sub_name, sub in module.named_modules(prefix=name):
        if sub is module:
            continue

        def hook(_m, _i, out, sub_name=sub_name):
            if isinstance(out, torch.Tensor):
                seen[id(out)] = sub_name  # the last writer wins
        handles.append(sub.register_forward_hook(hook))
    flags = [(m, m.training) for m in model.modules()]
    try:
        model.eval()
        with torch.no_grad():
            out = module(_probe_input(model, input_size))
        # ids are only compared while ``out`` is alive
        return seen.get(id(out)) if isinstance(out, torch.Tensor) else None
    finally:
        for handle in handles:
            handle.remove()
        for m, flag in flags:
            m.training = flag


def record_sides(model: nn.Module,
                 sides: Sequence[Dict[str, Any]],
                 input_size: Tuple[int, int] = (64, 64),
                 batch_size: int = 1) -> List[Any]:
    """What each side's recorder holds after one forward, or None.

    The forward runs in eval mode under ``torch.no_grad()`` on a seeded
    random ``[batch_size, C_in, H, W]`` input (``C_in`` = input channels of
    the first convolution); training flags are restored afterwards, so BN
    statistics are untouched, and every hook is removed.

    Args:
        model: An MMSeg segmentor (or any model with ``mode='tensor'``).
        sides: ``dict(name, record='outputs'|'inputs', ...)``; the module
            names must exist.
        input_size: ``(H, W)`` of the input.
        batch_size: ``B`` of the input.

    Returns:
        list: Per side the first record (a tensor, or the tuple of inputs or
        outputs; ``data_idx`` is not applied), None if the module never ran.
    """
    recorders = [(_InputsProbe if side.get('record') == 'inputs' else
                  _OutputsProbe)(side['name']) for side in sides]
    flags = [(m, m.training) for m in model.modules()]
    inputs = _probe_input(model, input_size, batch_size)
    try:
        for recorder in recorders:
            recorder.initialize(model)
            recorder.__enter__()
        model.eval()
        with torch.no_grad():
            _forward(model, inputs)
    finally:
        for recorder in recorders:
            if getattr(recorder, 'handle', None) is not None:
                recorder.__exit__(None, None, None)
                recorder.handle.remove()
        for module, flag in flags:
            module.training = flag
    return [r.get_record_data(0) if r.data_buffer else None
            for r in recorders]


def probe_channels(model: nn.Module, sides: List[Dict[str, Any]], who: str,
                   input_size: Tuple[int, int] = (64, 64),
                   owner: str = 'AttnFDDistiller',
                   method: str = 'AttnFD') -> List[int]:
    """Channel counts of recorded ``[B, C, H, W]`` features; the ``C`` of
    :func:`probe_shapes` (same arguments and errors)."""
    return [c for c, _, _ in probe_shapes(model, sides, who, input_size,
                                          owner, method)]


def probe_shapes(model: nn.Module, sides: List[Dict[str, Any]], who: str,
                 input_size: Tuple[int, int] = (64, 64),
                 owner: str = 'AttnFDDistiller',
                 method: str = 'AttnFD') -> List[Tuple[int, int, int]]:
    """``(C, H, W)`` of recorded ``[B, C, H, W]`` features.

    Args:
        model: The segmentor.
        sides: ``dict(name, record, data_idx)`` for every stage
            (``auto=True`` when ``stages='auto'`` chose it).
        who: ``'student'`` or ``'teacher'`` (for error messages).
        input_size: ``(H, W)`` of the probe input.
        owner: Distiller name opening error messages.
        method: Method name in the "needs a feature map" message.

    Returns:
        list[tuple]: ``(C, H, W)`` of every stage's feature for an
        ``input_size`` input.

    Raises:
        ValueError: A module did not run, ``data_idx`` does not fit the
            record, or the record is not a 4-D tensor.
    """
    channels = []
    for side, data in zip(sides, record_sides(model, sides, input_size)):
        where = f'{who} module {side["name"]!r} ({side["record"]})'
        fix = (f"stages='auto' cannot use it; list the stages explicitly, "
               "e.g. stages=[dict(student='backbone.<module>', "
               "teacher='backbone.<module>')]" if side.get('auto') else None)
        if data is None:
            raise ValueError(
                f'{owner}: {where} did not run in a forward pass of '
                'the segmentor (backbone, decode head, auxiliary heads), so '
                'it cannot be distilled. ' +
                (f'{fix}.' if fix else 'Pick a module on the forward path.'))
        idx = side['data_idx']
        if isinstance(data, (list, tuple)):
            if idx is None:
                raise ValueError(
                    f'{owner}: {where} gives a {type(data).__name__} '
                    f'of {len(data)} items; ' +
                    (f'{fix}.' if fix else f'set {who}_data_idx in the '
                     'stage dict to pick one feature map.'))
            if not -len(data) <= idx < len(data):
                raise ValueError(
                    f'{owner}: {where} gives {len(data)} items; '
                    f'data_idx={idx} is out of range.' +
                    (f' {fix}.' if fix else ''))
            data = data[idx]
        elif idx is not None:
            raise ValueError(
                f'{owner}: {where} gives one tensor, not a tuple; ' +
                (f'{fix}.' if fix else
                 f'remove {who}_data_idx from the stage dict.'))
        if not isinstance(data, torch.Tensor) or data.dim() != 4:
            shape = tuple(data.shape) if isinstance(data, torch.Tensor) \
                else type(data).__name__
            raise ValueError(
                f'{owner}: {where} gives {shape}, but {method} needs a '
                '[B, C, H, W] feature map. ' +
                (f'{fix}.' if fix else 'Pick a convolutional stage.'))
        channels.append(tuple(int(v) for v in data.shape[1:]))
    return channels
