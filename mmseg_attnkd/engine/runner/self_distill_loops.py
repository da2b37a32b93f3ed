# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Val and test loops scoring both outputs of axial self-distillation.

An axial self-distillation model (``SegSelfDistill`` + ``AxialSelfDistiller``)
has two outputs: the *student output* (the unchanged segmentor) and the
*teacher output* (its decode-head logits refined by the trained axial block,
exported as an ``AxialRefineHead`` model). MMRazor's ``SelfDistillValLoop``
scores the student only; its ``SingleTeacherDistillValLoop`` needs a separate
teacher network. The loops here run the dataset twice, once per output, and
report

* the student output under MMSeg's usual keys (``mIoU``, ``mDice``, ...), so
  configs, logs and ``save_best='mIoU'`` work as for a plain model;
* the teacher output under ``teacher_output.<key>`` (e.g.
  ``teacher_output.mIoU``), usable as ``save_best`` too.

The teacher output is produced by the segmentor's own inference path
(``EncoderDecoder.predict`` with its ``test_cfg``: whole image or sliding
window) with a forward hook on the decode head's ``conv_seg`` that applies
the axial connector, i.e. exactly the teacher logits of training
(``AxialSelfDistiller`` records ``conv_seg`` outputs) at every window. For
heads whose forward ends in ``conv_seg`` (every head the distiller accepts)
this is the computation of the exported ``AxialRefineHead`` model, so
validation, sliding-window inference and export agree bit for bit.

Nothing is changed on the model: the hook lives only while the teacher pass
runs, before ``after_val_epoch`` (where checkpoints are saved).
"""
import contextlib
import logging
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import torch
from mmengine.evaluator import Evaluator
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import TestLoop, ValLoop, autocast
from mmrazor.registry import LOOPS
from torch import nn
from torch.utils.data import DataLoader

from ...models.connectors.axial_connector import AxialConnector
from ...models.distillers.axial_self_distiller import find_logit_head
from ...models.distillers.logits_tap import logit_module

__all__ = [
    'SegSelfDistillValLoop', 'SegSelfDistillTestLoop',
    'find_axial_teacher_output', 'axial_teacher_output', 'evaluate_outputs',
    'TEACHER_OUTPUT_PREFIX'
]

#: Prefix of the teacher output's metric keys (``teacher_output.mIoU``).
TEACHER_OUTPUT_PREFIX = 'teacher_output.'


def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if is_model_wrapper(model) else model


def find_axial_teacher_output(
        model: nn.Module) -> Optional[Tuple[nn.Module, nn.Module]]:
    """The ``(conv_seg, axial connector)`` pair of an axial SD model.

    Args:
        model: An MMRazor algorithm (``SegSelfDistill`` or
            ``SegSingleTeacherDistill`` with an axial connector), possibly
            wrapped (DDP); anything else gives None.

    Returns:
        tuple | None: The module giving the student's logits (the decode
        head's ``conv_seg``, or its ``logits_tap`` when it has none) and
        the :class:`AxialConnector` that refines its output, or None when the
        model has no axial self-teacher (a plain segmentor, another
        distillation).
    """
    model = _unwrap(model)
    distiller = getattr(model, 'distiller', None)
    architecture = getattr(model, 'architecture', None)
    connectors = getattr(distiller, 'connectors', None)
    if architecture is None or not connectors:
        return None
    axial = [c for c in connectors.values() if isinstance(c, AxialConnector)]
    if len(axial) != 1:
        return None
    head = find_logit_head(architecture,
                           getattr(distiller, 'head_name', 'decode_head'))
    return logit_module(head), axial[0]


@contextlib.contextmanager
def axial_teacher_output(model: nn.Module) -> Iterator[bool]:
    """Make the model predict its axial teacher output while active.

    A forward hook on the student's ``conv_seg`` replaces its logits by the
    axial connector's refinement, so ``model.val_step``/``test_step``
    (whole or sliding-window inference, as configured in the segmentor's
    ``test_cfg``) return teacher-output predictions. The hook is removed on
    exit, also after an exception.

    Args:
        model: See :func:`find_axial_teacher_output`.

    Yields:
        bool: Whether the model has a teacher output (if False, nothing is
        hooked and predictions stay the student's).
    """
    found = find_axial_teacher_output(model)
    if found is None:
        yield False
        return
    conv_seg, connector = found

    def refine(module: nn.Module, inputs: tuple,
               output: torch.Tensor) -> torch.Tensor:
        # (N, C, h, w) student logits -> (N, C, h, w) teacher logits; a
        # block with context_channels also reads conv_seg's input features
        if connector.axial.context_channels:
            return connector((inputs[0], output))
        return connector(output)

    handle = conv_seg.register_forward_hook(refine)
    try:
        yield True
    finally:
        handle.remove()


class _BothOutputsMixin:
    """Runs a loop's dataset once per output and merges the metrics."""

    dataloader: DataLoader
    evaluator: Evaluator
    teacher_prefix: str
    _warned: bool = False

    def _teacher_pass(self, run_iter) -> Dict[str, float]:
        with axial_teacher_output(self.runner.model) as active:
            if not active:
                if not self._warned:
                    print_log(
                        f'{type(self).__name__}: the model has no axial '
                        'self-teacher output (not SegSelfDistill with an '
                        'AxialConnector); only the student output is '
                        'scored.', logger='current', level=logging.WARNING)
                    self._warned = True
                return {}
            for idx, data_batch in enumerate(self.dataloader):
                run_iter(idx, data_batch)
            metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        return {self.teacher_prefix + k: v for k, v in metrics.items()}

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 evaluator: Union[Evaluator, Dict, List],
                 fp16: bool = False,
                 teacher_prefix: str = TEACHER_OUTPUT_PREFIX) -> None:
        super().__init__(runner, dataloader, evaluator, fp16)
        if not teacher_prefix:
            raise ValueError('teacher_prefix must be non-empty, or the '
                             'teacher output would overwrite the student '
                             'keys.')
        self.teacher_prefix = teacher_prefix

    def _run_both(self, stage: str) -> Dict[str, float]:
        """One ``stage`` ('val' or 'test') epoch over both outputs."""
        self.runner.call_hook(f'before_{stage}')
        self.runner.call_hook(f'before_{stage}_epoch')
        self.runner.model.eval()
        getattr(self, f'{stage}_loss').clear()
        for idx, data_batch in enumerate(self.dataloader):
            self.run_iter(idx, data_batch)
        metrics = self.evaluator.evaluate(len(self.dataloader.dataset))
        metrics.update(self._teacher_pass(self.run_iter))
        self.runner.call_hook(f'after_{stage}_epoch', metrics=metrics)
        self.runner.call_hook(f'after_{stage}')
        return metrics


@LOOPS.register_module()
class SegSelfDistillValLoop(_BothOutputsMixin, ValLoop):
    """Validate the student and the axial teacher output of self-distillation.

    Drop-in for ``ValLoop`` in an axial self-distillation config::

        val_cfg = dict(type='mmrazor.SegSelfDistillValLoop')
        default_hooks = dict(checkpoint=dict(
            save_best=['mIoU', 'teacher_output.mIoU'], rule='greater'))

    Metrics: the student output's under the evaluator's keys, the teacher
    output's under ``teacher_prefix + key``. Hooks see one val epoch whose
    iterations run twice (student pass, then teacher pass), as in MMRazor's
    ``SingleTeacherDistillValLoop``. A model without an axial teacher output
    is validated like ``ValLoop`` (with a warning).

    Args:
        runner: The runner.
        dataloader: Dataloader or its config.
        evaluator: Evaluator or its config; reused for both outputs.
        fp16: Validate under autocast.
        teacher_prefix: Prefix of the teacher output's keys.
    """

    def run(self) -> Dict[str, float]:
        """Validate both outputs; returns the merged metrics."""
        return self._run_both('val')


@LOOPS.register_module()
class SegSelfDistillTestLoop(_BothOutputsMixin, TestLoop):
    """Test the student and the axial teacher output (see
    :class:`SegSelfDistillValLoop`; ``test_cfg = dict(type=
    'mmrazor.SegSelfDistillTestLoop')``); same arguments."""

    def run(self) -> Dict[str, float]:
        """Test both outputs; returns the merged metrics."""
        return self._run_both('test')


@torch.no_grad()
def evaluate_outputs(model: nn.Module,
                     dataloader: Sequence,
                     evaluator: Evaluator,
                     teacher_prefix: str = TEACHER_OUTPUT_PREFIX,
                     fp16: bool = False) -> Dict[str, float]:
    """Score both outputs without a runner or hooks (benchmarks, tools).

    Args:
        model: A segmentor or an axial SD algorithm (eval mode is set).
        dataloader: Yields data batches for ``model.val_step``.
        evaluator: With ``dataset_meta`` set.
        teacher_prefix: Prefix of the teacher output's keys.
        fp16: Run under autocast.

    Returns:
        dict: Student keys, plus ``teacher_prefix + key`` when the model has
        an axial teacher output.
    """
    model.eval()
    size = len(dataloader.dataset)

    def one_pass() -> Dict[str, float]:
        for data_batch in dataloader:
            with autocast(enabled=fp16):
                outputs = model.val_step(data_batch)
            evaluator.process(data_samples=outputs, data_batch=data_batch)
        return evaluator.evaluate(size)

    metrics = one_pass()
    with axial_teacher_output(model) as active:
        if active:
            metrics.update(
                {teacher_prefix + k: v for k, v in one_pass().items()})
    return metrics
