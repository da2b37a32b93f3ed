# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The student/teacher output pair of a self-distillation loss."""
from typing import Tuple

from torch import Tensor

__all__ = ['output_pair']


def output_pair(preds_S: Tensor, preds_T: Tensor,
                detach_teacher: bool) -> Tuple[Tensor, Tensor]:
    """``(preds_S, preds_T)``, the teacher detached if asked; both
    ``(N, C, H, W)`` of one shape, else a one-line error."""
    if preds_S.shape != preds_T.shape:
        raise ValueError(
            f'student output {tuple(preds_S.shape)} and teacher output '
            f'{tuple(preds_T.shape)} differ in shape; record both at the '
            'same module (the decode head\'s conv_seg).')
    return preds_S, preds_T.detach() if detach_teacher else preds_T
