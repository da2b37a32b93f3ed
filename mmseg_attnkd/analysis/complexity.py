# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Parameters and FLOPs of segmentors with :mod:`mmengine.analysis`.

FLOPs follow fvcore's convention used by MMEngine's ``FlopAnalyzer``: one
fused multiply-add counts as one FLOP. The count covers the inference
forward of the segmentor (``mode='tensor'``: backbone, neck and decode head,
without the auxiliary head and without the final upsampling).
"""
import copy
from typing import Dict, Tuple

import torch
import torch.nn as nn

__all__ = ['segmentor_complexity', 'format_count']


class _TensorForward(nn.Module):
    """Calls ``segmentor(inputs, None, mode='tensor')`` for the tracer."""

    def __init__(self, segmentor: nn.Module) -> None:
        super().__init__()
        self.segmentor = segmentor

    def forward(self, inputs: torch.Tensor):
        return self.segmentor(inputs, None, mode='tensor')


def segmentor_complexity(model: nn.Module,
                         input_shape: Tuple[int, int] = (512, 512),
                         drop_auxiliary: bool = True) -> Dict[str, float]:
    """FLOPs and parameters of an MMSeg segmentor for one image.

    Args:
        model: The segmentor (not modified; a copy is analysed if the
            auxiliary head has to be removed).
        input_shape: ``(H, W)`` of the input.
        drop_auxiliary: Exclude ``auxiliary_head`` (training only) from
            the parameter count.

    Returns:
        dict: ``flops`` and ``params`` (floats), ``flops_str``, ``params_str``
        (e.g. ``'1.2G'``) and ``input_shape``.
    """
    from mmengine.analysis import FlopAnalyzer, parameter_count

    if len(input_shape) != 2 or min(input_shape) < 1:
        raise ValueError(f'input_shape must be (H, W) with positive sizes, '
                         f'got {input_shape!r}')
    if drop_auxiliary and getattr(model, 'auxiliary_head', None) is not None:
        model = copy.deepcopy(model)
        model.auxiliary_head = None
    was_training = model.training
    model.eval()
    wrapper = _TensorForward(model)
    param = next(model.parameters())
    inputs = torch.rand(1, 3, *input_shape, device=param.device)
    try:
        with torch.no_grad():
            analyzer = FlopAnalyzer(wrapper, (inputs, ))
            analyzer.tracer_warnings('none')
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
            flops = float(analyzer.total())
    finally:
        model.train(was_training)
    params = float(parameter_count(model)[''])
    return dict(
        flops=flops,
        params=params,
        flops_str=format_count(flops),
        params_str=format_count(params),
        input_shape=tuple(input_shape))


def format_count(value: float) -> str:
    """``1234567 -> '1.235M'`` (K/M/G/T)."""
    for unit, scale in (('T', 1e12), ('G', 1e9), ('M', 1e6), ('K', 1e3)):
        if abs(value) >= scale:
            return f'{value / scale:.3f}{unit}'
    return f'{value:.0f}'
