# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The compat layer: MMRazor's distillation API imports and works on this
torch, runner checkpoints load weights-only, unsafe pickles are refused."""
import os
import os.path as osp
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmseg_attnkd import compat

from _pickle_payloads import FileCreatingPayload


def _fresh_python(code: str, env: dict, timeout: int, **kwargs) -> str:
    """Run ``code`` in a new interpreter, which must exit 0; its stdout."""
    out = subprocess.run([sys.executable, '-c', code], env=env,
                         capture_output=True, text=True, timeout=timeout,
                         **kwargs)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


def test_all_fixes_applied():
    assert 'safe_checkpoint_loading' in compat.APPLIED
    assert 'mmengine_cpu_distributed' in compat.APPLIED
    assert any(a.startswith('mmrazor_quantization') for a in compat.APPLIED)


def test_mmrazor_models_import_and_registry():
    import mmrazor.models  # noqa: F401  (fails on torch>=2.1 without compat)
    from mmrazor.registry import MODELS
    from mmrazor.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    for name in ('SingleTeacherDistill', 'ConfigurableDistiller',
                 'ChannelWiseDivergence', 'SelfDistill', 'KLDivergence'):
        assert MODELS.get(name) is not None, name


def test_fresh_interpreter_lazy_scope_entry(subprocess_env):
    """mmengine enters the ``mmrazor`` scope lazily while building a config;
    with ``import mmseg_attnkd`` first, that path must work in a new
    process that never imported mmrazor.models itself."""
    code = (
        'import mmseg_attnkd\n'
        'from mmengine.registry import MODELS, DefaultScope\n'
        "DefaultScope.get_instance('t', scope_name='mmseg')\n"
        "loss = MODELS.build(dict(type='mmrazor.ChannelWiseDivergence', "
        'tau=1.0))\n'
        "print(type(loss).__name__)\n")
    assert _fresh_python(code, subprocess_env, 120).endswith(
        'ChannelWiseDivergence')


def test_quantization_use_raises_clear_error():
    from mmrazor.structures.quantization import BackendConfigs
    if 'mmrazor_quantization' not in compat.APPLIED:
        pytest.skip('this torch imports mmrazor quantization natively')
    with pytest.raises(compat.QuantizationUnavailableError,
                       match='quantization backend .native.'):
        BackendConfigs['native']


def _runner_like_checkpoint() -> dict:
    from mmengine.logging import HistoryBuffer, MessageHub
    hub = MessageHub.get_instance('compat-test')
    for i in range(3):
        hub.update_scalar('train/loss', np.float64(1.0 / (i + 1)))
    hub.update_info('iter', 2)
    return dict(
        meta=dict(iter=2, seed=np.int64(0)),
        state_dict={'w': torch.ones(2)},
        message_hub=hub.state_dict(),
        history=HistoryBuffer([1.0, 2.0], [1, 1]))


def test_runner_checkpoint_loads_weights_only(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    torch.save(_runner_like_checkpoint(), path)
    # torch's default (weights_only=True) path, as mmengine calls it
    ckpt = torch.load(path, map_location='cpu')
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert buf.mean() == pytest.approx((1 + 0.5 + 1 / 3) / 3)
    assert ckpt['history'].max() == 2.0


class _GetattrCanary:
    """Tries to smuggle a call through the allow-listed ``getattr``."""

    def __reduce__(self):
        return (getattr, ('payload', 'upper'))


@pytest.mark.parametrize('payload', ['reduce', 'getattr'])
def test_malicious_checkpoint_refused(tmp_path, payload):
    from mmengine.runner import load_checkpoint
    from mmseg_attnkd.utils import (UnsafeCheckpointError,
                                    load_checkpoint_safely)
    canary = str(tmp_path / 'canary.txt')
    evil = FileCreatingPayload(canary) if payload == 'reduce' else _GetattrCanary()
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={'w': torch.ones(1)}, extra=evil), path)
    assert not osp.exists(canary)

    with pytest.raises(pickle.UnpicklingError,
                       match='Weights only load failed'):
        torch.load(path, map_location='cpu')
    with pytest.raises(UnsafeCheckpointError, match='refused to load'):
        load_checkpoint_safely(path)
    with pytest.raises(pickle.UnpicklingError,
                       match='Weights only load failed'):
        load_checkpoint(torch.nn.Linear(1, 1), path, map_location='cpu')
    assert not osp.exists(canary)


def test_trusted_opt_in_loads_legacy_pickle(tmp_path):
    from mmseg_attnkd.utils import load_checkpoint_safely
    path = str(tmp_path / 'legacy.pth')
    torch.save(dict(state_dict={}, extra=_GetattrCanary()), path)
    ckpt = load_checkpoint_safely(path, allow_unsafe=True)
    assert ckpt['extra']() == 'PAYLOAD'  # the bound str.upper came back


def test_checkpoint_errors_name_the_problem(tmp_path):
    from mmseg_attnkd.utils import load_checkpoint_safely
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_checkpoint_safely(str(tmp_path / 'nope.pth'))
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match='empty'):
        load_checkpoint_safely(str(empty))
    good = str(tmp_path / 'good.pth')
    torch.save(dict(state_dict={'w': torch.ones(1000)}), good)
    data = open(good, 'rb').read()
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match='truncated'):
        load_checkpoint_safely(str(truncated))


def test_mmengine_loader_stays_weights_only_under_env_override(
        tmp_path, subprocess_env):
    """``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` turns torch's *default* off;
    MMEngine's local loader (resume, load_from, teacher_ckpt) must still
    refuse a malicious pickle because compat asks for weights-only
    explicitly."""
    canary = str(tmp_path / 'canary.txt')
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={'w': torch.ones(1)},
                    extra=FileCreatingPayload(canary)), path)
    code = (
        'import pickle, sys, torch\n'
        'import mmseg_attnkd\n'
        'from mmengine.runner import load_checkpoint\n'
        'try:\n'
        f'    load_checkpoint(torch.nn.Linear(1, 1), {path!r})\n'
        'except pickle.UnpicklingError:\n'
        "    print('refused')\n")
    env = dict(subprocess_env, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD='1')
    env.pop('MMSEG_ATTNKD_TRUST_UNSAFE_CHECKPOINTS', None)
    assert _fresh_python(code, env, 120, cwd=str(tmp_path)).endswith(
        'refused')
    assert not osp.exists(canary)


def test_mmcv_with_ops_is_left_alone():
    """With compiled ops, ``mmcv.ops`` is never replaced (nor imported)."""
    import importlib.util
    if importlib.util.find_spec('mmcv._ext') is None:
        pytest.skip('this mmcv has no compiled ops')
    assert 'mmcv_without_ops:not-needed' in compat.APPLIED
    mod = sys.modules.get('mmcv.ops')
    assert not getattr(mod, 'MMSEG_ATTNKD_PLACEHOLDER', False)


def test_mmcv_without_ops_imports_mmseg(subprocess_env):
    """An mmcv without compiled ops (mmcv-lite): ``None`` in ``sys.modules``
    hides ``mmcv._ext`` exactly as a missing extension does. mmseg (which
    imports ``mmcv.ops`` unguarded) must import, ``point_sample`` must work
    and any compiled op must raise a clear ``ModuleNotFoundError``."""
    code = (
        'import sys, torch\n'
        "sys.modules['mmcv._ext'] = None\n"
        'import mmseg_attnkd\n'
        'from mmseg_attnkd import compat\n'
        "assert 'mmcv_without_ops' in compat.APPLIED, compat.APPLIED\n"
        'import mmseg.models, mmseg.utils  # noqa\n'
        'from mmengine.utils.dl_utils import mmcv_full_available\n'
        'assert not mmcv_full_available()\n'
        'from mmcv.ops import point_sample\n'
        'out = point_sample(torch.rand(1, 2, 4, 4), torch.rand(1, 3, 2))\n'
        'assert out.shape == (1, 2, 3), out.shape\n'
        'try:\n'
        '    from mmcv.ops import SyncBatchNorm  # noqa\n'
        'except ModuleNotFoundError as err:\n'
        "    assert 'compiled ops' in str(err), err\n"
        'else:\n'
        "    raise AssertionError('SyncBatchNorm imported')\n"
        'from mmcv.ops import sigmoid_focal_loss\n'
        'try:\n'
        '    sigmoid_focal_loss(torch.rand(1, 2), torch.zeros(1).long())\n'
        'except compat.MMCVOpsUnavailableError:\n'
        "    print('ok')\n")
    assert _fresh_python(code, subprocess_env, 300).endswith('ok')


def test_distutils_importable_for_collect_env():
    """MMEngine's ``collect_env`` (every Runner) imports ``distutils``."""
    import importlib.util
    assert importlib.util.find_spec('distutils') is not None
    from mmengine.utils.dl_utils import collect_env
    assert 'PyTorch' in collect_env()
