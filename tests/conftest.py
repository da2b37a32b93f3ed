# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Shared pytest fixtures: a generated dataset and helpers to run tools."""
import os
import os.path as osp
import sys

import pytest

TESTS_DIR = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(TESTS_DIR)
# ``bench`` (a package of the repository, not installed) and
# ``_tools_helpers`` (loads a script of ``tools/``, which is no package)
for _path in (REPO_ROOT, TESTS_DIR):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import mmseg_attnkd  # noqa: E402,F401  (compat fixes + registration)

if os.environ.get('PYTEST_XDIST_WORKER'):
    # `make test` runs two pytest-xdist workers on the cores: one intra-op
    # thread each keeps them from oversubscribing (subprocesses use one too)
    import torch
    torch.set_num_threads(1)


@pytest.fixture(scope='session')
def repo_root() -> str:
    return REPO_ROOT


@pytest.fixture(scope='session')
def synthetic_data(tmp_path_factory) -> str:
    """A 4-class generated dataset (8 train / 4 val, 64x64) in MMSeg layout."""
    from mmseg_attnkd.testing import generate_seg_dataset
    root = str(tmp_path_factory.mktemp('synthetic'))
    generate_seg_dataset(root, num_train=8, num_val=4, size=(64, 64),
                         num_classes=4, seed=0)
    return root


@pytest.fixture(scope='session')
def small_synthetic_data(tmp_path_factory) -> str:
    """The same kind of dataset with 4 train / 2 val images, for the
    training runs of a few iterations."""
    from mmseg_attnkd.testing import generate_seg_dataset
    root = str(tmp_path_factory.mktemp('small_synthetic'))
    generate_seg_dataset(root, num_train=4, num_val=2, size=(64, 64),
                         num_classes=4)
    return root


@pytest.fixture
def subprocess_env() -> dict:
    """Environment for running repo tools in a subprocess."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO_ROOT] + [p for p in env.get('PYTHONPATH', '').split(os.pathsep)
                       if p])
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


def _default_scopes() -> dict:
    from mmengine.registry import DefaultScope
    return DefaultScope._instance_dict


#: MMEngine's default scopes as the test session found them.
_SESSION_SCOPES = dict(_default_scopes())


@pytest.fixture(autouse=True)
def _isolate_default_scope():
    """Undo MMEngine default scopes created by a test or by a fixture.

    Every Runner (and ``init_default_scope``) registers a ``DefaultScope``
    instance that stays current for the rest of the process, so a test that
    builds from MMRazor's registry without naming a scope would otherwise
    depend on which tests ran before it. Restoring the session's starting
    state (not the state before the test) also drops the scopes of module-
    and session-scoped fixtures, which are set up before this fixture.
    """
    yield
    scopes = _default_scopes()
    scopes.clear()
    scopes.update(_SESSION_SCOPES)


def pytest_collection_finish(session):
    """Move what collection imported out of the garbage collector's sight.

    The test modules import torch, MMEngine, MMSeg and MMRazor: a few
    million long-lived objects that every full collection walks again.
    MMEngine calls ``gc.collect()`` each time it builds a dataset (and so
    does every dataloader of an in-process training), which made each
    dataset build in this process take most of a second. ``gc.freeze()``
    keeps those objects (never garbage) out of later collections; objects
    created by the tests are collected as before.
    """
    import gc
    gc.collect()
    gc.freeze()
