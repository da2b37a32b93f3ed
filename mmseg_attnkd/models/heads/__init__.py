# Copyright (c) mmseg-attnkd contributors. All rights reserved.
from .axial_refine_head import AxialRefineHead

__all__ = ['AxialRefineHead']
