# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Loops that validate/test both outputs of axial self-distillation.

Registered in MMRazor's ``LOOPS`` (like MMRazor's own distillation loops),
so configs name them ``mmrazor.SegSelfDistillValLoop`` from any scope; the
teacher-output exporter replaces ``mmrazor.*`` loops by MMEngine's.
"""
from .self_distill_loops import (TEACHER_OUTPUT_PREFIX, SegSelfDistillTestLoop,
                                 SegSelfDistillValLoop, axial_teacher_output,
                                 evaluate_outputs, find_axial_teacher_output)

__all__ = [
    'SegSelfDistillValLoop', 'SegSelfDistillTestLoop',
    'axial_teacher_output', 'find_axial_teacher_output', 'evaluate_outputs',
    'TEACHER_OUTPUT_PREFIX'
]
