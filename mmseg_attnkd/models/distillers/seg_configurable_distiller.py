# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""MMRazor's ``ConfigurableDistiller`` whose losses always see contiguous
fp32 records, with autocast off."""
from typing import Any, Dict

import torch
from mmrazor.models.distillers import ConfigurableDistiller
from mmrazor.registry import MODELS

from mmseg_attnkd.utils.precision import autocast_disabled, to_float32
from .contiguous_records import ContiguousRecordsMixin

__all__ = ['SegConfigurableDistiller']


@MODELS.register_module()
class SegConfigurableDistiller(ContiguousRecordsMixin, ConfigurableDistiller):
    """``ConfigurableDistiller`` (same arguments, same checkpoint keys) that
    hands every loss contiguous records (:class:`ContiguousRecordsMixin`)
    cast to fp32, computed with autocast off (:meth:`float32_loss`).

    Connectors run in the caller's precision. Under ``AmpOptimWrapper`` or
    a bf16 teacher the records arrive in bf16/fp16, and a loss computed in
    reduced precision loses the small differences it measures. The
    ``Seg*Distill`` algorithms build a hand-written
    ``type='ConfigurableDistiller'`` as this class, and
    :class:`StageDistiller` and :class:`AxialSelfDistiller` derive from it.
    """

    def compute_distill_losses(self) -> Dict[str, torch.Tensor]:
        """``{loss_name: scalar}`` from the records of the last forward."""
        return {name: self.float32_loss(name, {
            arg: self.get_record(**record)
            for arg, record in mapping.items()})
            for name, mapping in self.loss_forward_mappings.items()}

    def float32_loss(self, name: str,
                     kwargs: Dict[str, Any]) -> torch.Tensor:
        """Loss ``name`` on ``kwargs`` cast to fp32, with autocast off."""
        with autocast_disabled():
            return self.distill_losses[name](**to_float32(kwargs))
