# Copyright (c) mmseg-attnkd contributors. All rights reserved.
from .axial_attention import AxialAttention1d, AxialAttention2d
from .axial_memory import axial_train_bytes, smallest_fitting_stride
from .cbam import CBAM

__all__ = [
    'CBAM', 'AxialAttention1d', 'AxialAttention2d', 'axial_train_bytes',
    'smallest_fitting_stride'
]
