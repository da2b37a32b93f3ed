# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""CBAM attention of a distillation model, per stage and side.

Works with any MMRazor ``ConfigurableDistiller`` whose connectors contain a
:class:`~mmseg_attnkd.models.attention.CBAM` (the AttnFD distiller's
``CBAMConnector`` on the student side and ``TeacherCBAMConnector`` on the
teacher side): the teacher and the student run once with the distiller's
recorders on, every ``loss_forward_mappings`` entry with such a connector is
replayed, and ``CBAM.attention_maps`` is evaluated on the exact tensor the
CBAM receives during training.
"""
from typing import List, NamedTuple, Optional

import torch
import torch.nn as nn
from torch import Tensor

__all__ = ['StageAttention', 'find_cbam', 'collect_cbam_attention']


class StageAttention(NamedTuple):
    """CBAM attention of one side of one distilled stage.

    Attributes:
        stage: Stage index (order of ``loss_forward_mappings``).
        loss: Name of the distillation loss of the stage.
        side: ``'student'`` or ``'teacher'``.
        module: Recorded module name (e.g. ``'backbone.layer4'``).
        connector: Connector name in ``distiller.connectors``.
        feature: CBAM input ``[B, C, H, W]``.
        channel_att: ``[B, C, 1, 1]`` in (0, 1).
        spatial_att: ``[B, 1, H, W]`` in (0, 1).
    """
    stage: int
    loss: str
    side: str
    module: str
    connector: str
    feature: Tensor
    channel_att: Tensor
    spatial_att: Tensor


def find_cbam(module: nn.Module) -> Optional[nn.Module]:
    """The first CBAM inside ``module`` (itself included), or None."""
    from mmseg_attnkd.models.attention.cbam import CBAM
    for sub in module.modules():
        if isinstance(sub, CBAM):
            return sub
    return None


def _recorder_source(distiller, recorder: str, from_student: bool) -> str:
    manager = distiller.student_recorders if from_student \
        else distiller.teacher_recorders
    rec = manager.get_recorder(recorder)
    return str(getattr(rec, 'source', recorder))


@torch.no_grad()
def collect_cbam_attention(algorithm: nn.Module,
                           inputs: Tensor) -> List[StageAttention]:
    """Attention maps of every CBAM connector for a preprocessed batch.

    Args:
        algorithm: An MMRazor distillation algorithm (``SingleTeacherDistill``
            with e.g. ``AttnFDDistiller``), weights loaded.
        inputs: Normalised images ``[B, 3, H, W]`` (output of the
            algorithm's ``data_preprocessor``).

    Returns:
        list[StageAttention]: Stage by stage, teacher then student.

    Raises:
        ValueError: The model has no distiller, or no connector has a CBAM.
    """
    distiller = getattr(algorithm, 'distiller', None)
    teacher = getattr(algorithm, 'teacher', None)
    student = getattr(algorithm, 'student', None)
    if distiller is None or teacher is None or student is None:
        raise ValueError(
            f'{type(algorithm).__name__} is not a teacher-student '
            'distillation model (needs .distiller, .teacher, .student); '
            'pass the AttnFD distillation config and its checkpoint.')
    connectors = getattr(distiller, 'connectors', {})
    cbams = {n: find_cbam(c) for n, c in connectors.items()}
    cbams = {n: c for n, c in cbams.items() if c is not None}
    if not cbams:
        raise ValueError(
            f'the distiller {type(distiller).__name__} has no connector with '
            'a CBAM (connectors: '
            f'{", ".join(connectors.keys()) or "none"}); attention maps '
            'exist only for AttnFD-style distillation.')

    was_training = algorithm.training
    algorithm.eval()
    try:
        with distiller.teacher_recorders, distiller.deliveries:
            teacher(inputs, None, mode='tensor')
        with distiller.student_recorders, distiller.deliveries:
            student(inputs, None, mode='tensor')

        found: List[StageAttention] = []
        stage = 0
        for loss_name, mapping in distiller.loss_forward_mappings.items():
            items = [m for m in mapping.values()
                     if m.get('connector') in cbams]
            if not items:
                continue
            # teacher first, then student
            items.sort(key=lambda m: bool(m.get('from_student')))
            for spec in items:
                name = spec['connector']
                cbam = cbams[name]
                captured = {}

                def grab(mod, args, captured=captured):
                    captured.setdefault('x', args[0])

                handle = cbam.register_forward_pre_hook(grab)
                try:
                    distiller.get_record(**spec)
                finally:
                    handle.remove()
                if 'x' not in captured:
                    raise RuntimeError(f'connector {name} did not call its '
                                       'CBAM; cannot read its attention')
                x = captured['x']
                channel_att, spatial_att = cbam.attention_maps(x)
                found.append(StageAttention(
                    stage=stage,
                    loss=loss_name,
                    side='student' if spec.get('from_student') else
                    'teacher',
                    module=_recorder_source(distiller, spec['recorder'],
                                            bool(spec.get('from_student'))),
                    connector=name,
                    feature=x.detach(),
                    channel_att=channel_att.detach(),
                    spatial_att=spatial_att.detach()))
            stage += 1
    finally:
        algorithm.train(was_training)
    return found
