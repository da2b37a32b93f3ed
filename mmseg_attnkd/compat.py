# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Compatibility fixes for the OpenMMLab stack on a modern torch.

Supported stack: torch 2.13, mmcv 2.1.0 (with ops; without them see (e)),
mmengine 0.10.7, mmsegmentation 1.2.2, mmrazor 1.0.0. This module depends
on nothing else in ``mmseg_attnkd`` and is applied by ``import mmseg_attnkd``
before any other import of the package. It never edits installed files;
every fix is a runtime, idempotent, narrowly scoped change:

(a) :func:`patch_mmrazor_quantization` - ``import mmrazor.models`` fails on
    torch >= 2.1 because mmrazor 1.0.0 builds quantization backend configs
    at import time from ``torch.ao.quantization`` internals that were
    renamed or removed. Distillation does not use quantization, so the
    quantization structures are replaced by a module whose names raise a
    clear error if anyone calls them; all distillation classes import and
    register as usual. It runs eagerly here, so it is in place before
    mmengine's registry lazily calls ``mmrazor.utils.register_all_modules``
    the first time the ``mmrazor`` scope is entered.

(b) :func:`enable_safe_checkpoint_loading` - torch >= 2.6 defaults
    ``torch.load`` to ``weights_only=True`` and mmengine 0.10.7 checkpoints
    pickle ``HistoryBuffer`` objects (whose statistics-method table is
    pickled through ``builtins.getattr``) and numpy arrays/scalars in the
    message hub, so ``--resume`` fails. Exactly those are allow-listed via
    ``torch.serialization.add_safe_globals``, ``getattr`` only as a
    restricted stand-in; weights-only loading stays on, so any other
    pickled object is still refused. Pickle protocol 2 (``torch.save``'s)
    writes an empty ``bytes`` object as the call ``bytes()``; numpy uses
    one for the data of every empty array (a ``HistoryBuffer`` with no
    values yet, an empty metric array) and of empty numpy strings, so
    ``bytes`` is allowed as a second restricted stand-in that only builds
    ``b''``. MMEngine's local-file loader is
    re-registered (``CheckpointLoader.register_scheme``) to pass
    ``weights_only=True`` explicitly, so ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``
    cannot silently turn the check off.

(c) ``--local-rank`` / ``--local_rank`` is handled in ``tools/train.py`` and
    ``tools/test.py`` (torch >= 2 launchers use the dashed spelling).

(d) :func:`patch_mmengine_cpu_distributed` - mmengine 0.10.7's PyTorch
    launcher calls ``torch.cuda.set_device`` and gives DDP ``device_ids``
    unconditionally, so ``tools/dist_train.sh`` fails without CUDA; on such
    machines the launcher skips the CUDA calls and uses gloo.

(e) :func:`patch_mmcv_without_ops` - with an mmcv built without compiled
    ops (``mmcv-lite``, or ``MMCV_WITH_OPS=0``) ``import mmcv.ops`` fails,
    and mmsegmentation 1.2.2 imports ``mmcv.ops`` unguarded in
    ``mmseg.utils`` (so on every ``mmseg`` import path) and in some losses
    and heads. Only there ``mmcv.ops`` is replaced by a module with mmcv's
    pure-PyTorch ``point_sample``; any other name raises
    :class:`MMCVOpsUnavailableError` (a ``ModuleNotFoundError``, which the
    optional-op guards of mmseg and mmengine catch) when imported, or for
    the focal losses when called. Nothing changes where ``mmcv._ext``
    (the compiled ops) exists.

(f) :func:`ensure_distutils` - every MMEngine ``Runner`` logs its
    environment with ``collect_env``, which imports ``distutils``, gone
    from Python 3.12. setuptools supplies it through a ``.pth`` hook that
    Python does not run for folders on ``PYTHONPATH`` (``pip --target``
    installs); where ``distutils`` cannot be found, setuptools is imported
    once, which installs its copy.
"""
import importlib
import importlib.util
import os
import sys
import types
from typing import List, NoReturn

import numpy as np
import torch

__all__ = [
    'patch_mmrazor_quantization', 'enable_safe_checkpoint_loading',
    'QuantizationUnavailableError', 'patch_mmengine_cpu_distributed',
    'TRUST_UNSAFE_ENV_VAR', 'unsafe_loading_opted_in', 'torch_load',
    'TRUSTED_CHECKPOINT_GLOBALS', 'apply_all', 'APPLIED',
    'patch_mmcv_without_ops', 'MMCVOpsUnavailableError', 'ensure_distutils'
]

#: Names of the fixes applied in this process, for logs and tests.
APPLIED: List[str] = []


# --------------------------------------------------------------------------
# (b) weights-only checkpoint loading
# --------------------------------------------------------------------------
def _numpy_globals() -> list:
    """numpy objects that mmengine's message hub pickles.

    ``np.ndarray`` is rebuilt through ``multiarray._reconstruct`` with a
    ``dtype``; numpy scalars (e.g. ``np.float64`` losses in ``runtime_info``)
    through ``multiarray.scalar``. numpy >= 2 moved ``numpy.core`` to
    ``numpy._core``; both spellings are registered when present.
    """
    found = [np.ndarray, np.dtype]
    for mod_name in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        for name in ('_reconstruct', 'scalar'):
            obj = getattr(mod, name, None)
            if obj is not None:
                found.append(obj)
    dtypes = getattr(np, 'dtypes', None)  # numpy >= 1.25: one class a dtype
    if dtypes is not None:
        for name in dir(dtypes):
            obj = getattr(dtypes, name)
            if isinstance(obj, type) and issubclass(obj, np.dtype):
                found.append(obj)
    return found


_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'mean', 'current')


def _history_buffer_getattr(obj: object, name: str) -> object:
    """Restricted stand-in for ``builtins.getattr`` during weights-only loads.

    ``HistoryBuffer`` pickles its ``_statistics_methods`` dict as
    ``getattr(HistoryBuffer, 'min')`` etc. Allow-listing ``getattr`` itself
    would let a checkpoint reach anything (``getattr(os, 'system')``), so
    this resolves only those four attributes of that one class.
    """
    from mmengine.logging import HistoryBuffer
    is_buffer = obj is HistoryBuffer or isinstance(obj, HistoryBuffer)
    if is_buffer and name in _HISTORY_BUFFER_STATISTICS:
        return getattr(obj, name)
    import pickle
    raise pickle.UnpicklingError(
        f'refused getattr({getattr(obj, "__name__", type(obj).__name__)}, '
        f'{name!r}) while loading a checkpoint: only HistoryBuffer '
        'statistics methods are allowed in weights-only loading.')


def _mmengine_globals() -> list:
    from mmengine.logging import HistoryBuffer
    return [HistoryBuffer, (_history_buffer_getattr, 'builtins.getattr')]


def _empty_bytes(*args, **kwargs) -> bytes:
    """Restricted stand-in for ``builtins.bytes`` during weights-only loads.

    Pickle protocol 2 stores non-empty ``bytes`` through ``_codecs.encode``
    (allowed by torch) but ``b''`` as the call ``bytes()``, which numpy's
    arrays and scalars use for empty data: ``HistoryBuffer()`` (MMEngine's
    val/test loops create one per loss before its first value), a
    zero-size metric array, ``np.str_('')``. Only that call is resolved;
    ``bytes(n)`` (which would allocate ``n`` bytes) or any other argument
    is refused.
    """
    if args or kwargs:
        import pickle
        raise pickle.UnpicklingError(
            'refused bytes(...) with arguments while loading a checkpoint: '
            "only bytes() (an empty b'' in pickle protocol 2) is allowed in "
            'weights-only loading.')
    return b''


def _builtin_globals() -> list:
    return [(_empty_bytes, 'builtins.bytes')]


def _trusted_globals() -> list:
    return _numpy_globals() + _mmengine_globals() + _builtin_globals()


TRUSTED_CHECKPOINT_GLOBALS: List[object] = _trusted_globals()


#: Set to ``1`` to unpickle arbitrary objects from checkpoints. UNSAFE: a
#: malicious file can run code; only for legacy files from a trusted source.
TRUST_UNSAFE_ENV_VAR = 'MMSEG_ATTNKD_TRUST_UNSAFE_CHECKPOINTS'


def unsafe_loading_opted_in() -> bool:
    """Whether the user set :data:`TRUST_UNSAFE_ENV_VAR` to ``1``."""
    return os.environ.get(TRUST_UNSAFE_ENV_VAR, '') == '1'


def torch_load(filename: str, map_location=None, allow_unsafe: bool = False):
    """The project's one ``torch.load`` call: weights-only, explicitly.

    Unsafe unpickling happens only if ``allow_unsafe`` is passed or
    :data:`TRUST_UNSAFE_ENV_VAR` is ``1``.
    """
    unsafe = allow_unsafe or unsafe_loading_opted_in()
    return torch.load(
        filename, map_location=map_location, weights_only=not unsafe)


def load_from_local_weights_only(filename: str, map_location=None):
    """MMEngine's local-file checkpoint loader, weights-only explicitly.

    (Named like MMEngine's loaders, whose log line prints the name after
    ``load_from_``: "Loads checkpoint by local_weights_only backend".)

    MMEngine's own ``load_from_local`` calls ``torch.load`` without
    ``weights_only`` and so relies on torch's default, which the environment
    variable ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` silently turns off. This
    loader asks for weights-only loading explicitly (which torch honours
    over that variable); only :data:`TRUST_UNSAFE_ENV_VAR` opts out.
    """
    filename = os.path.expanduser(filename)
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    return torch_load(filename, map_location=map_location)


def enable_safe_checkpoint_loading() -> None:
    """Allow-list what mmengine/mmseg/mmrazor checkpoints contain (b).

    numpy arrays, dtypes and scalars; ``HistoryBuffer``; ``getattr``
    restricted to ``HistoryBuffer``'s statistics methods (see
    :func:`_history_buffer_getattr`); and ``bytes`` restricted to ``bytes()``
    (see :func:`_empty_bytes`). Nothing else: any other global in a
    pickle still makes ``torch.load`` raise before it is called.
    """
    if 'safe_checkpoint_loading' in APPLIED:
        return
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is not None:  # torch >= 2.4
        add_safe_globals(TRUSTED_CHECKPOINT_GLOBALS)
    # resume, load_from, init_model and MMRazor's teacher_ckpt all read local
    # files through this MMEngine scheme registry
    from mmengine.runner.checkpoint import CheckpointLoader
    CheckpointLoader.register_scheme(
        prefixes='', loader=load_from_local_weights_only, force=True)
    APPLIED.append('safe_checkpoint_loading')


# --------------------------------------------------------------------------
# (a) mmrazor quantization imports
# --------------------------------------------------------------------------
_BACKEND_CONFIG_MODULE = 'mmrazor.structures.quantization.backend_config'
_BACKEND_NAMES = ('academic', 'native', 'tensorrt', 'openvino')


class QuantizationUnavailableError(RuntimeError):
    """Raised when MMRazor quantization is used on an unsupported torch."""


def _quantization_unavailable(what: str, reason: str) -> NoReturn:
    raise QuantizationUnavailableError(
        f'{what} is unavailable: mmrazor 1.0.0 cannot build its quantization '
        f'backend configs on torch {torch.__version__} ({reason}). '
        'mmseg_attnkd only patches this so that distillation works; for '
        'quantization use torch<2.1 with mmrazor 1.0.0.')


class _UnavailableBackendConfigs(dict):
    """Stands in for ``BackendConfigs``: every lookup explains the cause."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    def __missing__(self, key):
        _quantization_unavailable(f'quantization backend {key!r}',
                                  self.reason)


def _make_unavailable_backend_module(reason: str) -> types.ModuleType:
    mod = types.ModuleType(
        _BACKEND_CONFIG_MODULE,
        'Replaced by mmseg_attnkd.compat: the real module fails to import '
        f'on torch {torch.__version__} ({reason}).')

    def make(fname):
        def unavailable(*args, **kwargs):
            _quantization_unavailable(f'{fname}()', reason)
        unavailable.__name__ = fname
        return unavailable

    names = ['BackendConfigs']
    mod.BackendConfigs = _UnavailableBackendConfigs(reason)
    for backend in _BACKEND_NAMES:
        for suffix in ('', '_dict'):
            fname = f'get_{backend}_backend_config{suffix}'
            setattr(mod, fname, make(fname))
            names.append(fname)
    mod.__all__ = names
    mod.MMSEG_ATTNKD_PLACEHOLDER = True
    return mod


def _missing_torch_quantization_names() -> str:
    """Describe the torch names mmrazor 1.0.0 expects but cannot find."""
    try:
        fmm = importlib.import_module(
            'torch.ao.quantization.fuser_method_mappings')
    except ImportError as err:
        return f'torch.ao.quantization.fuser_method_mappings: {err}'
    missing = [
        n for n in ('reverse2', 'reverse3', 'reverse_sequential_wrapper2')
        if not hasattr(fmm, n)
    ]
    if not missing:
        return ''
    return ('torch.ao.quantization.fuser_method_mappings no longer defines '
            + ', '.join(missing))


def patch_mmrazor_quantization() -> None:
    """Make ``import mmrazor.models`` work on torch >= 2.1 (a).

    ``mmrazor.structures.quantization.backend_config`` is imported for real
    first; only if that raises ``ImportError`` (on torch >= 2.1 because
    ``torch.ao.quantization.fuser_method_mappings`` no longer has
    ``reverse2``, ``reverse3`` and ``reverse_sequential_wrapper2``, so
    mmrazor falls back to placeholders and then dereferences them at import
    time) is it replaced in ``sys.modules`` by a module with the same public
    names that raise :class:`QuantizationUnavailableError` when used. The
    half-imported ``mmrazor.structures*`` modules are dropped so the next
    import re-runs them cleanly against the replacement.
    """
    if 'mmrazor_quantization' in APPLIED:
        return
    try:
        importlib.import_module(_BACKEND_CONFIG_MODULE)
    except ModuleNotFoundError as err:
        if err.name is not None and err.name.split('.')[0] == 'mmrazor':
            return  # mmrazor not installed: nothing to patch
        reason = f'{type(err).__name__}: {err}'
    except ImportError as err:
        reason = f'{type(err).__name__}: {err}'
    else:
        APPLIED.append('mmrazor_quantization:not-needed')
        return
    reason = _missing_torch_quantization_names() or reason
    for name in [m for m in sys.modules if m.startswith('mmrazor.structures')]:
        del sys.modules[name]
    sys.modules[_BACKEND_CONFIG_MODULE] = _make_unavailable_backend_module(
        reason)
    # Re-import the parents: ``structures.quantization`` now star-imports the
    # replacement, and ``qconfig``/``subnet`` import as usual.
    importlib.import_module('mmrazor.structures')
    APPLIED.append('mmrazor_quantization')


# --------------------------------------------------------------------------
# (d) multi-process training on a CPU-only torch
# --------------------------------------------------------------------------
def _no_accelerator() -> bool:
    if torch.cuda.is_available():
        return False
    from mmengine.device import (is_mlu_available, is_musa_available,
                                 is_npu_available)
    return not (is_mlu_available() or is_npu_available()
                or is_musa_available())


def patch_mmengine_cpu_distributed() -> None:
    """Let ``--launcher pytorch`` run on machines without CUDA (d).

    mmengine 0.10.7 assumes CUDA in two places of the PyTorch launcher path:
    ``mmengine.dist.utils._init_dist_pytorch`` calls
    ``torch.cuda.set_device(local_rank)`` unconditionally (a CPU-only torch
    raises ``AttributeError: torch._C has no _cuda_setDevice``), and
    ``Runner.wrap_model`` passes ``device_ids=[LOCAL_RANK]`` to
    ``MMDistributedDataParallel``, which torch rejects for CPU modules.
    Both wrappers defer to the originals whenever an accelerator exists;
    without one they skip ``set_device`` (using gloo if nccl was asked for)
    and pass ``device_ids=None`` for CPU modules, as torch requires.
    """
    if 'mmengine_cpu_distributed' in APPLIED:
        return
    import mmengine.dist.utils as dist_utils
    from mmengine.model.wrappers import MMDistributedDataParallel

    original_init_dist = dist_utils._init_dist_pytorch

    def _init_dist_pytorch(backend='nccl', init_backend='torch', **kwargs):
        if init_backend != 'torch' or not _no_accelerator():
            return original_init_dist(
                backend, init_backend=init_backend, **kwargs)
        if backend == 'nccl':
            backend = 'gloo'  # nccl needs CUDA
        torch.distributed.init_process_group(backend=backend, **kwargs)

    original_ddp_init = MMDistributedDataParallel.__init__

    def __init__(self, module, detect_anomalous_params=False, **kwargs):
        if kwargs.get('device_ids') and all(
                p.device.type == 'cpu' for p in module.parameters()):
            kwargs['device_ids'] = None
        original_ddp_init(self, module, detect_anomalous_params, **kwargs)

    dist_utils._init_dist_pytorch = _init_dist_pytorch
    MMDistributedDataParallel.__init__ = __init__
    APPLIED.append('mmengine_cpu_distributed')


# --------------------------------------------------------------------------
# (e) mmcv without compiled ops
# --------------------------------------------------------------------------
class MMCVOpsUnavailableError(ModuleNotFoundError):
    """A compiled ``mmcv.ops`` name was used with an mmcv built without ops.

    A ``ModuleNotFoundError`` so that the ``try: from mmcv.ops import X``
    guards of mmseg and mmengine treat it like a missing ``mmcv.ops``.
    """


#: ``mmcv.ops`` names that are pure PyTorch in mmcv 2.1.0 (point_sample.py).
_MMCV_PURE_OPS = ('point_sample', 'bilinear_grid_sample')
#: Imported at module level by mmseg 1.2.2: callables that raise when used.
_MMCV_OPS_RAISE_ON_CALL = ('sigmoid_focal_loss', 'softmax_focal_loss')


def _mmcv_ops_unavailable(name: str) -> MMCVOpsUnavailableError:
    return MMCVOpsUnavailableError(
        f'mmcv.ops.{name} needs mmcv built with compiled ops; the installed '
        'mmcv has none (mmcv-lite or MMCV_WITH_OPS=0). Install mmcv with ops '
        'to use it.', name='mmcv.ops')


def _make_mmcv_ops_module() -> types.ModuleType:
    import mmcv
    mod = types.ModuleType(
        'mmcv.ops', 'Replaced by mmseg_attnkd.compat: this mmcv has no '
        'compiled ops; only pure-PyTorch functions are available.')
    mod.MMSEG_ATTNKD_PLACEHOLDER = True
    path = os.path.join(os.path.dirname(mmcv.__file__), 'ops',
                        'point_sample.py')
    if os.path.isfile(path):  # pure PyTorch: imports only torch
        spec = importlib.util.spec_from_file_location(
            'mmcv.ops.point_sample', path)
        pure = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(pure)
        sys.modules['mmcv.ops.point_sample'] = pure
        for name in _MMCV_PURE_OPS:
            setattr(mod, name, getattr(pure, name))

    def __getattr__(name: str):
        if name.startswith('__'):
            raise AttributeError(name)
        if name in _MMCV_OPS_RAISE_ON_CALL:
            def unavailable(*args, **kwargs):
                raise _mmcv_ops_unavailable(name)
            unavailable.__name__ = name
            return unavailable
        raise _mmcv_ops_unavailable(name)

    mod.__getattr__ = __getattr__
    mod.__all__ = [n for n in _MMCV_PURE_OPS if n in vars(mod)]
    return mod


def patch_mmcv_without_ops() -> None:
    """Let mmseg import with an mmcv that has no compiled ops (e).

    Does nothing if mmcv is not installed, if ``mmcv.ops`` is already
    imported, or if ``mmcv._ext`` (the compiled ops) exists, so it never
    imports ``mmcv.ops`` itself.
    """
    if any(a.startswith('mmcv_without_ops') for a in APPLIED):
        return
    if 'mmcv.ops' in sys.modules or importlib.util.find_spec('mmcv') is None:
        return
    if importlib.util.find_spec('mmcv._ext') is not None:
        APPLIED.append('mmcv_without_ops:not-needed')
        return
    import mmcv
    mod = _make_mmcv_ops_module()
    sys.modules['mmcv.ops'] = mod
    mmcv.ops = mod
    APPLIED.append('mmcv_without_ops')


# --------------------------------------------------------------------------
# (f) distutils on Python >= 3.12
# --------------------------------------------------------------------------
def ensure_distutils() -> None:
    """Make ``import distutils`` work for MMEngine's ``collect_env`` (f)."""
    if 'distutils' in sys.modules or any(
            a.startswith('distutils') for a in APPLIED):
        return
    if importlib.util.find_spec('distutils') is not None:
        return  # stdlib (Python < 3.12) or setuptools' hook already active
    try:
        import setuptools  # noqa: F401  (installs setuptools' distutils)
    except ImportError:
        return
    if importlib.util.find_spec('distutils') is not None:
        APPLIED.append('distutils_from_setuptools')


def apply_all() -> None:
    """Apply every fix (idempotent)."""
    patch_mmcv_without_ops()
    ensure_distutils()
    enable_safe_checkpoint_loading()
    patch_mmrazor_quantization()
    patch_mmengine_cpu_distributed()


apply_all()
