# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Errors of the deployment path and the lazy import of ONNX packages.

``onnx`` and ``onnxruntime`` are optional dependencies
(``requirements/optional.txt``); they are imported only when an export or a
verification actually runs, so ``import mmseg_attnkd.deployment`` works
without them and a missing package produces one line naming the fix.
"""
import importlib
from types import ModuleType

__all__ = [
    'DeploymentError', 'MissingDependencyError', 'DistillationCheckpointError',
    'OnnxExportError', 'VerificationError', 'import_optional'
]

#: The command that installs what the deployment path needs.
INSTALL_HINT = 'pip install onnx onnxruntime'


class DeploymentError(RuntimeError):
    """Base class of every error raised by :mod:`mmseg_attnkd.deployment`."""


class MissingDependencyError(DeploymentError, ImportError):
    """``onnx`` or ``onnxruntime`` is not installed."""


class DistillationCheckpointError(DeploymentError, ValueError):
    """A distillation checkpoint or config was given instead of a plain one."""


class OnnxExportError(DeploymentError):
    """``torch.onnx.export`` failed; the message names the module."""


class VerificationError(DeploymentError, AssertionError):
    """onnxruntime's outputs differ from PyTorch's beyond the tolerance.

    Attributes:
        report: The :class:`~mmseg_attnkd.deployment.verify.VerifyReport`.
    """

    def __init__(self, message: str, report=None) -> None:
        super().__init__(message)
        self.report = report


def import_optional(name: str) -> ModuleType:
    """Import ``onnx``/``onnxruntime`` or raise a one-line install hint.

    Args:
        name: Module name (``'onnx'``, ``'onnxruntime'``, ...).

    Raises:
        MissingDependencyError: The module is not installed.
    """
    try:
        return importlib.import_module(name)
    except ImportError as err:
        raise MissingDependencyError(
            f'{name} is not installed; the ONNX deployment path needs it: '
            f'{INSTALL_HINT}') from err
