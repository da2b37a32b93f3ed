# Copyright (c) mmseg-attnkd contributors. All rights reserved.
from .axial_attention import AxialAttention1d, AxialAttention2d
from .cbam import CBAM

__all__ = ['CBAM', 'AxialAttention1d', 'AxialAttention2d']
