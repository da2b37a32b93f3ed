# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Clear errors: distillation files, ops that do not export, missing deps."""
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from torch import nn

from mmseg_attnkd.deployment import (DistillationCheckpointError,
                                     MissingDependencyError, OnnxExportError,
                                     init_export_model)
from mmseg_attnkd.utils import build_distill_model, build_segmentor

from _deploy_helpers import (AXIAL, REPO, SHAPE, student_model_cfg,
                             write_plain_model)
from _tools_helpers import load_tool


@pytest.fixture(scope='module')
def student(tmp_path_factory):
    return write_plain_model(tmp_path_factory.mktemp('student'),
                             student_model_cfg(), 'student')


def _axial_sd_state_dict() -> dict:
    """The key layout of a real SelfDistill + AxialSelfDistiller run."""
    model = build_distill_model(dict(model=dict(
        _scope_='mmrazor',
        type='SelfDistill',
        architecture=student_model_cfg(),
        distiller=dict(type='AxialSelfDistiller', axial=dict(AXIAL)))))
    return model.state_dict()


def test_kd_checkpoint_is_refused_naming_the_student_converter(
        student, tmp_path):
    cfg, ckpt = student
    state = torch.load(ckpt, weights_only=True)['state_dict']
    kd = {f'architecture.{k}': v for k, v in state.items()}
    kd.update({f'teacher.{k}': v for k, v in state.items()})
    kd['distiller.connectors.s4.conv.weight'] = torch.zeros(1)
    path = str(tmp_path / 'iter_100.pth')
    torch.save(dict(state_dict=kd, meta={}), path)
    with pytest.raises(DistillationCheckpointError) as info:
        init_export_model(cfg, path)
    msg = str(info.value)
    assert '\n' not in msg
    assert 'iter_100.pth is a distillation training checkpoint' in msg
    assert 'tools/model_converters/convert_kd_ckpt_to_student.py' in msg
    assert 'convert_axial' not in msg


def test_axial_checkpoint_is_refused_naming_the_axial_converter(
        student, tmp_path, capsys):
    cfg, _ = student
    path = str(tmp_path / 'axial_sd.pth')
    torch.save(dict(state_dict=_axial_sd_state_dict(), meta={}), path)
    with pytest.raises(DistillationCheckpointError,
                       match='convert_axial_ckpt_to_refine_head.py'):
        init_export_model(cfg, path)

    # the CLI prints the same single line and exits with status 2
    tool = load_tool('deployment/pytorch2onnx.py')
    rc = tool.main([cfg, path, '--out', str(tmp_path / 'x.onnx')])
    lines = [line for line in capsys.readouterr().err.splitlines()
             if line.startswith('error:')]  # (library warnings aside)
    assert rc == 2 and len(lines) == 1
    err = lines[0]
    assert err.startswith('error: axial_sd.pth is an axial self-distillation')
    assert 'tools/model_converters/convert_axial_ckpt_to_refine_head.py' \
        in err
    assert not osp.exists(tmp_path / 'x.onnx')


def test_distillation_config_is_refused(tmp_path):
    path = str(tmp_path / 'axial_sd_cfg.py')
    Config(dict(model=dict(
        _scope_='mmrazor', type='SelfDistill',
        architecture=student_model_cfg(),
        distiller=dict(type='AxialSelfDistiller')))).dump(path)
    with pytest.raises(DistillationCheckpointError,
                       match='MMRazor distillation config.*'
                       'convert_axial_ckpt_to_refine_head.py'):
        init_export_model(path)


@torch.library.custom_op('attnkd_test::mystery', mutates_args=())
def _mystery(x: torch.Tensor) -> torch.Tensor:
    return x * 1.5


@_mystery.register_fake
def _(x):
    return torch.empty_like(x)


class Mystery(nn.Module):
    """Calls an operator that has no ONNX conversion."""

    def forward(self, x):
        return torch.ops.attnkd_test.mystery(x)


class RefusesExport(nn.Module):
    """Raises while being traced (as data-dependent Python would)."""

    def forward(self, x):
        if torch.onnx.is_in_onnx_export():
            raise RuntimeError('cannot trace this')
        return x


@pytest.mark.parametrize('module, expect', [
    (Mystery, 'operator attnkd_test::mystery does not export to ONNX; it is '
     'called in segmentor.decode_head.conv_seg.1 (Mystery)'),
    (RefusesExport, 'ONNX export failed in module '
     'segmentor.decode_head.conv_seg.1 (RefusesExport): cannot trace this'),
], ids=['unsupported-op', 'trace-error'])
def test_export_failure_names_the_module(module, expect, tmp_path):
    from mmseg_attnkd.deployment import export_segmentor
    pytest.importorskip('onnx')
    model = build_segmentor(student_model_cfg())
    head = model.decode_head
    head.conv_seg = nn.Sequential(head.conv_seg, module())
    with torch.no_grad():
        model(torch.zeros(1, 3, *SHAPE), mode='tensor')  # fine eagerly
    out = tmp_path / 'bad.onnx'
    with pytest.raises(OnnxExportError) as info:
        export_segmentor(model, str(out), shape=SHAPE)
    assert expect in str(info.value)
    assert not out.exists()


def test_missing_onnxruntime_names_the_install_command(monkeypatch):
    from mmseg_attnkd.deployment import ort_session
    monkeypatch.setitem(sys.modules, 'onnxruntime', None)
    with pytest.raises(MissingDependencyError,
                       match='^onnxruntime is not installed; .*: '
                       'pip install onnx onnxruntime$'):
        ort_session('model.onnx')


def test_package_import_does_not_load_onnx():
    code = ('import sys, mmseg_attnkd; '
            'assert "mmseg_attnkd.deployment" not in sys.modules; '
            'import mmseg_attnkd.deployment; '
            'bad = [m for m in ("onnx", "onnxruntime", "onnxscript") '
            'if m in sys.modules]; assert not bad, bad')
    subprocess.run([sys.executable, '-c', code], check=True, cwd=REPO)
