# Copyright (c) mmseg-attnkd contributors. All rights reserved.
from .attnfd_axial_distiller import AttnFDAxialDistiller
from .attnfd_distiller import AttnFDDistiller, auto_stages
from .axial_self_distiller import AxialSelfDistiller, find_logit_head
from .connector_cache import ConnectorCacheMixin

__all__ = [
    'AttnFDDistiller', 'auto_stages', 'AxialSelfDistiller',
    'AttnFDAxialDistiller', 'ConnectorCacheMixin', 'find_logit_head'
]
