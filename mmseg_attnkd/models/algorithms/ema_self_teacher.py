# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""An exponential-moving-average self-teacher for axial self-distillation.

With the live axial block as the teacher, the consistency term pulls the
student towards a function of its own current logits, which in practice
adds little beyond a second CE head. A mean teacher (Tarvainen & Valpola,
NeurIPS 2017) is an average of the student's recent weights, so its output
carries what the student knew over the last ``~1/momentum`` steps: here
the EMA of the student *and* its axial block computes the target of the
consistency loss, while the live block keeps training with the teacher CE.
"""
import torch
from mmengine.model import ExponentialMovingAverage
from torch import Tensor, nn

__all__ = ['EMASelfTeacher']


class EMASelfTeacher(nn.Module):
    """EMA copy of ``(student, axial block)`` and its teacher output.

    Args:
        student: The MMSeg segmentor being trained.
        block: Its axial block (``distiller.connectors['axial']``).
        momentum: Weight of the newest weights in each update,
            ``avg = (1 - m) * avg + m * live`` (MMEngine's
            ``ExponentialMovingAverage``); 0.01 averages over about the
            last 100 steps, a fit for schedules of a few thousand steps.
            The first update copies the live weights. Buffers (BN
            statistics) are averaged too.
    """

    def __init__(self, student: nn.Module, block: nn.Module,
                 momentum: float = 0.01) -> None:
        super().__init__()
        if not 0 < momentum <= 1:
            raise ValueError(f'ema_teacher: momentum must lie in (0, 1], got '
                             f'{momentum!r}; 0.01 averages about 100 steps.')
        self.ema = ExponentialMovingAverage(
            self._pair(student, block), momentum=momentum,
            update_buffers=True)

    @staticmethod
    def _pair(student: nn.Module, block: nn.Module) -> nn.ModuleDict:
        return nn.ModuleDict(dict(student=student, block=block))

    def update(self, student: nn.Module, block: nn.Module) -> None:
        """Average the live weights in (after an optimizer step)."""
        self.ema.update_parameters(self._pair(student, block))

    @torch.no_grad()
    def teacher_output(self, inputs: Tensor) -> Tensor:
        """``(N, C, h, w)`` logits: the EMA block on the EMA student's
        logits, both in eval mode, for preprocessed ``inputs``."""
        pair = self.ema.module
        pair.eval()
        logits = pair['student'](inputs, None, 'tensor')
        if not isinstance(logits, Tensor):
            raise ValueError(
                'ema_teacher needs a segmentor whose tensor-mode output is '
                f'one logit map, got {type(logits).__name__}; drop '
                'ema_teacher for this model.')
        return pair['block'](logits)

    def train(self, mode: bool = True) -> 'EMASelfTeacher':
        """The averaged copy always runs in eval mode."""
        super().train(mode)
        self.ema.module.eval()
        return self
