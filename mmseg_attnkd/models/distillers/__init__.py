# Copyright (c) mmseg-attnkd contributors. All rights reserved.
from .attnfd_distiller import AttnFDDistiller, auto_stages
from .axial_self_distiller import AxialSelfDistiller

__all__ = ['AttnFDDistiller', 'auto_stages', 'AxialSelfDistiller']
