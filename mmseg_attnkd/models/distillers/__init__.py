# Copyright (c) mmseg-attnkd contributors. All rights reserved.
from .attnfd_axial_distiller import AttnFDAxialDistiller
from .attnfd_distiller import AttnFDDistiller
from .axial_branch import (AxialBranchMixin, build_axial_connector,
                           find_logit_head)
from .axial_self_distiller import AxialSelfDistiller
from .connector_cache import ConnectorCacheMixin
from .contiguous_records import ContiguousRecordsMixin, contiguous
from .fused_stage_losses import FusedStageLossMixin
from .logits_tap import LOGITS_TAP, logit_module, tap_head_logits
from .module_io_recorder import ModuleInputOutputRecorder
from .module_names import (closest_names_hint, missing_module_hint,
                           module_names)
from .seg_configurable_distiller import SegConfigurableDistiller
from .shape_probe import probe_channels, producing_module, record_sides
from .stage_components import loss_input_names, with_channels
from .stage_distiller import StageDistiller
from .stage_specs import AUTO_PRESETS, auto_stages, make_side, parse_stages

__all__ = [
    'StageDistiller', 'SegConfigurableDistiller', 'AttnFDDistiller',
    'auto_stages', 'AxialSelfDistiller', 'AttnFDAxialDistiller',
    'ModuleInputOutputRecorder', 'AxialBranchMixin', 'ConnectorCacheMixin',
    'FusedStageLossMixin', 'ContiguousRecordsMixin', 'contiguous',
    'find_logit_head', 'build_axial_connector', 'closest_names_hint',
    'missing_module_hint', 'module_names', 'probe_channels', 'record_sides',
    'producing_module', 'LOGITS_TAP', 'logit_module', 'tap_head_logits',
    'with_channels', 'loss_input_names', 'AUTO_PRESETS', 'make_side',
    'parse_stages'
]
