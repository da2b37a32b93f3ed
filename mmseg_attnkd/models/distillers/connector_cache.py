# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Run each connector once per step when several losses read it."""
from typing import Dict, Optional

from torch import Tensor

__all__ = ['ConnectorCacheMixin']


class ConnectorCacheMixin:
    """Caches connector outputs inside :meth:`compute_distill_losses`.

    MMRazor's ``ConfigurableDistiller.get_record`` applies the connector on
    every call, so two losses reading one connector (e.g. the teacher CE and
    the MSE of axial self-distillation) would run it twice. Mix this in
    before ``ConfigurableDistiller``.
    """

    _record_cache: Optional[Dict] = None

    def get_record(self,
                   recorder: str,
                   from_student: bool,
                   record_idx: int = 0,
                   data_idx: Optional[int] = None,
                   connector: Optional[str] = None,
                   connector_idx: Optional[int] = None):
        """Like ``ConfigurableDistiller.get_record``, but a connector's
        output is computed once per :meth:`compute_distill_losses`."""
        if connector is None or self._record_cache is None:
            return super().get_record(recorder, from_student, record_idx,
                                      data_idx, connector, connector_idx)
        key = (recorder, from_student, record_idx, data_idx, connector)
        if key not in self._record_cache:
            self._record_cache[key] = super().get_record(
                recorder, from_student, record_idx, data_idx, connector)
        data = self._record_cache[key]
        return data if connector_idx is None else data[connector_idx]

    def compute_distill_losses(self) -> Dict[str, Tensor]:
        """The parent's losses, with connector outputs cached meanwhile."""
        self._record_cache = dict()
        try:
            return super().compute_distill_losses()
        finally:
            self._record_cache = None
