# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Which module of a model calls a given operator, or was running on error.

An ONNX export fails with the name of an ATen operator (``aten::foo``,
``aten.foo.default``) and, for the new exporter, a node of the exported
graph, but rarely with the module the user wrote. Two probes close that
gap:

* :class:`ModuleStack` keeps the dotted names of the modules being
  executed (forward pre-hooks push, forward hooks pop), so when tracing
  raises inside a module the innermost one is known;
* :func:`find_op_callers` runs the model once eagerly and records, for
  every operator, the innermost module that called it, both at the Python
  level (``torch.einsum``, ``Tensor.softmax``, ``F.interpolate``) and at
  the ATen level (``aten::_softmax``, ``aten::upsample_bilinear2d``), so an
  operator named by either exporter maps back to a module.
"""
import re
from collections import OrderedDict
from typing import Dict, Iterable, List, Optional, Sequence

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode

__all__ = ['ModuleStack', 'find_op_callers', 'op_names_in', 'short_op_name']

#: ``aten::foo``, ``aten.foo.default``, ``torch.ops.aten.foo``, custom
#: namespaces (``my_lib::op``) and ``<OpOverload(op='aten.foo', ...)>``.
_OP_PATTERNS = (
    re.compile(r"\b([A-Za-z_][\w]*)::([A-Za-z_]\w*)"),
    re.compile(r"op='([A-Za-z_]\w*)\.([A-Za-z_]\w*)'"),
    re.compile(r"torch\.ops\.([A-Za-z_]\w*)\.([A-Za-z_]\w*)"),
    re.compile(r"\b(aten|prims)\.([A-Za-z_]\w*)"),
)
#: Namespaces that are not operators (``torch::jit`` and friends).
_NOT_OPS = {'torch', 'c10', 'at', 'std', 'jit', 'onnx'}


def short_op_name(name: str) -> str:
    """``'aten::_softmax'`` / ``'aten._softmax.default'`` -> ``'_softmax'``."""
    name = name.split('::')[-1]
    if name.startswith(('aten.', 'prims.')):
        name = name.split('.', 1)[1]
    return name.split('.')[0]


def op_names_in(text: str) -> List[str]:
    """Operator names (``ns::op``) mentioned in an error message, in order."""
    found = []
    for pattern in _OP_PATTERNS:
        for ns, op in pattern.findall(text):
            if ns in _NOT_OPS:
                continue
            full = f'{ns}::{op}'
            if full not in found:
                found.append(full)
    return found


class ModuleStack:
    """Track the modules of ``model`` being executed (a context manager).

    Attributes:
        stack: Dotted names, outermost first (``''`` is the root).
        last_failed: The innermost module that was running when an
            exception left the ``with`` block (``None`` if none).
    """

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.stack: List[str] = []
        self.last_failed: Optional[str] = None
        self._handles = []

    def __enter__(self) -> 'ModuleStack':
        for name, module in self.model.named_modules():
            self._handles.append(module.register_forward_pre_hook(
                self._push(name)))
            self._handles.append(module.register_forward_hook(
                self._pop(name)))
        return self

    def _push(self, name: str):

        def hook(module, args):
            self.stack.append(name)

        return hook

    def _pop(self, name: str):

        def hook(module, args, output):
            # a module that raised never reaches its forward hook, so the
            # innermost failing module stays on the stack
            if self.stack and self.stack[-1] == name:
                self.stack.pop()

        return hook

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None and self.stack:
            self.last_failed = self.stack[-1]
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        return False


class _CallRecorder:
    """Notes which module (innermost on the stack) called each op name."""

    def __init__(self, stack: ModuleStack, calls: Dict) -> None:
        super().__init__()
        self.tracker, self.calls = stack, calls

    def _note(self, name: str) -> None:
        if self.tracker.stack:
            self.calls.setdefault(short_op_name(name), OrderedDict())[
                self.tracker.stack[-1]] = None


class _FunctionRecorder(_CallRecorder, TorchFunctionMode):

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self._note(getattr(func, '__name__', None) or str(func))
        return func(*args, **(kwargs or {}))


class _DispatchRecorder(_CallRecorder, TorchDispatchMode):

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        packet = getattr(func, 'overloadpacket', func)
        self._note(getattr(packet, '__name__', None) or str(func))
        return func(*args, **(kwargs or {}))


def find_op_callers(model: nn.Module, args: Sequence,
                    ops: Iterable[str]) -> Dict[str, List[str]]:
    """Modules of ``model`` that call each operator in ``ops``.

    Runs ``model(*args)`` once without gradients.

    Args:
        model: The module that was exported.
        args: Its example inputs.
        ops: Operator names as exporters print them (``'aten::einsum'``,
            ``'aten.einsum.default'``, ``'einsum'``).

    Returns:
        dict: ``{op: [dotted module name, ...]}`` (innermost callers, in
        call order; ``''`` is the root module); operators never seen are
        left out.
    """
    calls: Dict[str, OrderedDict] = {}
    tracker = ModuleStack(model)
    try:
        with torch.no_grad(), tracker, _FunctionRecorder(tracker, calls), \
                _DispatchRecorder(tracker, calls):
            model(*args)
    except Exception:  # noqa: BLE001  (best effort: keep what was seen)
        pass
    out = {}
    for op in ops:
        seen = calls.get(short_op_name(op))
        if seen:
            out[op] = list(seen)
    return out


def describe_module(model: nn.Module, name: str) -> str:
    """``'decode_head.axial.attn_h (AxialAttention1d)'`` for a dotted name."""
    try:
        module = model.get_submodule(name) if name else model
    except AttributeError:
        return name or '<root>'
    return f'{name or "<root>"} ({type(module).__name__})'
