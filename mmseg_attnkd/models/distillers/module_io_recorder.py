# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""A recorder of a module's first input together with its output."""
from typing import Any, Tuple

from mmrazor.models.task_modules.recorder import ModuleOutputsRecorder
from mmrazor.registry import TASK_UTILS
from torch import nn

__all__ = ['ModuleInputOutputRecorder']


@TASK_UTILS.register_module()
class ModuleInputOutputRecorder(ModuleOutputsRecorder):
    """Records ``(inputs[0], output)`` of ``source`` at each forward.

    One record holds both ends of a module, so a connector can read them
    together: the axial self-teacher with ``axial_input='features'`` takes
    the decoder features going into ``conv_seg`` and the logits coming
    out (``get_record_data(data_idx=0)`` is the input, ``1`` the output).
    """

    def forward_hook(self, module: nn.Module, inputs: Tuple,
                     outputs: Any) -> None:
        """Save ``(inputs[0], outputs)`` while recording."""
        if self.recording:
            self.data_buffer.append((inputs[0], outputs))
