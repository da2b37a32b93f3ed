# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Layers only point down: what each part of the package may import.

Read from the sources (``ast``), not by importing them, since
``import mmseg_attnkd`` loads every subpackage anyway.
"""
import ast
import glob
import os.path as osp

import pytest

PKG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))),
               'mmseg_attnkd')


def _imports(path):
    """Absolute names of the modules ``path`` imports (relative imports
    resolved against its package)."""
    package = osp.relpath(osp.dirname(path), osp.dirname(PKG)).split(osp.sep)
    names = []
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                names.append('.'.join(base + ([node.module]
                                              if node.module else [])))
            else:
                names.append(node.module)
    return names


def _sources(*parts):
    return sorted(glob.glob(osp.join(PKG, *parts, '**', '*.py'),
                            recursive=True))


def test_import_reader_resolves_relative_imports():
    guard = osp.join(PKG, 'models', 'algorithms', 'nonfinite_loss_guard.py')
    assert 'mmseg_attnkd.utils.nonfinite' in _imports(guard)


@pytest.mark.parametrize('part', ['attention', 'heads'])
def test_attention_and_inference_head_need_no_mmrazor(part):
    # an exported teacher-output model runs with MMSeg alone
    for path in _sources('models', part):
        bad = [m for m in _imports(path) if m.split('.')[0] == 'mmrazor']
        assert bad == [], path


def test_models_and_engine_do_not_import_each_other_both_ways():
    # engine/ (loops) may use models/; models/ never imports engine/
    for path in _sources('models'):
        bad = [m for m in _imports(path)
               if m.startswith('mmseg_attnkd.engine')]
        assert bad == [], path


def test_nonfinite_checks_sit_below_models_and_engine():
    path = osp.join(PKG, 'utils', 'nonfinite.py')
    assert [m for m in _imports(path) if m.startswith('mmseg_attnkd')] == []


def test_fused_attnfd_path_takes_the_weight_from_the_loss():
    # the weight is read, checked and applied in attnfd_loss.py only
    for name in ('attnfd_fused.py', 'attnfd_rows.py'):
        text = open(osp.join(PKG, 'models', 'losses', name)).read()
        assert 'loss_weight' not in text, name
