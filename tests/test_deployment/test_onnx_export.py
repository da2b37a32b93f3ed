# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""ONNX export + onnxruntime verification of both model kinds (tiny models).

The plain student (what ``convert_kd_ckpt_to_student.py`` writes) and the
axial teacher output (``AxialRefineHead``, what
``convert_axial_ckpt_to_refine_head.py`` writes) are exported, checked on
the bundled demo images, and run with onnxruntime directly.
"""
import json
import os.path as osp

import numpy as np
import pytest
import torch

pytest.importorskip('onnx')
pytest.importorskip('onnxruntime')

from mmseg_attnkd.deployment import (default_images,  # noqa: E402
                                     export_onnx, image_to_input,
                                     init_export_model, ort_session,
                                     read_image, verify_onnx)
from mmseg_attnkd.deployment.errors import VerificationError  # noqa: E402

from _deploy_helpers import (DATASET_META, NUM_CLASSES,  # noqa: E402
                             SHAPE, axial_model_cfg, student_model_cfg,
                             write_plain_model)
from _tools_helpers import load_tool  # noqa: E402


@pytest.fixture(scope='module')
def student(tmp_path_factory):
    return write_plain_model(tmp_path_factory.mktemp('student'),
                             student_model_cfg(), 'student')


def _torch_logits(cfg, ckpt, x):
    from mmseg_attnkd.deployment import SegmentorExportWrapper
    wrapper = SegmentorExportWrapper(init_export_model(cfg, ckpt))
    with torch.no_grad():
        return wrapper(torch.from_numpy(x)).numpy()


def test_student_export_verifies_and_runs_in_onnxruntime(student, tmp_path):
    cfg, ckpt = student
    out = str(tmp_path / 'student.onnx')
    result = export_onnx(cfg, ckpt, out, shape=SHAPE)
    report = result.verification
    assert report.passed, report.summary()
    assert len(report.checks) == 2  # the two default demo images
    assert report.max_abs_diff <= 1e-3 and report.worst_agreement >= 0.9999
    assert all(c.shape == SHAPE for c in report.checks)

    session = ort_session(out, threads=1)
    assert session.get_inputs()[0].shape == [1, 3, *SHAPE]
    x = image_to_input(read_image(default_images()[0]), SHAPE)
    (logits, ) = session.run(None, {'image': x})
    assert logits.shape == (1, NUM_CLASSES, *SHAPE)
    np.testing.assert_allclose(logits, _torch_logits(cfg, ckpt, x),
                               atol=1e-4, rtol=0)

    import onnx
    meta = {p.key: p.value for p in onnx.load(out).metadata_props}
    assert json.loads(meta['mmseg_attnkd.classes']) == \
        list(DATASET_META['classes'])
    assert 'BGR' in meta['mmseg_attnkd.input']
    assert meta['mmseg_attnkd.output'] == 'logits'


@pytest.mark.parametrize('axial', [
    dict(span=32),                          # axes <= span: table slices
    dict(span=8),                           # axes > span: interpolated table
    dict(span=8, long_axis='window'),       # axes > span: masked window
    # a block trained with axial_input='features': it also reads conv_seg's
    # input (the decoder features)
    dict(span=32, context_channels=student_model_cfg()['decode_head'][
        'channels']),
], ids=['slice', 'interpolate', 'window', 'features'])
def test_axial_teacher_output_exports_and_verifies(axial, tmp_path):
    cfg, ckpt = write_plain_model(tmp_path, axial_model_cfg(**axial),
                                  'teacher_output')
    model = init_export_model(cfg, ckpt)
    assert type(model.decode_head).__name__ == 'AxialRefineHead'
    out = str(tmp_path / 'teacher_output.onnx')
    report = export_onnx(cfg, ckpt, out, shape=SHAPE).verification
    assert report.passed, report.summary()

    # the axial block matters: the teacher output differs from its base head
    from mmseg_attnkd.deployment import SegmentorExportWrapper
    x = torch.from_numpy(
        image_to_input(read_image(default_images()[0]), SHAPE))
    with torch.no_grad():
        refined = SegmentorExportWrapper(model)(x)
        feats = model.extract_feat(
            SegmentorExportWrapper(model).preprocess(x))
        base = model.decode_head.base_head(feats)
        head = model.decode_head(feats)
    assert refined.abs().max() > 0 and base.abs().max() > 0
    assert not torch.allclose(head, base, atol=1e-3)


def test_labels_output_matches_torch_argmax(student, tmp_path):
    cfg, ckpt = student
    out = str(tmp_path / 'labels.onnx')
    result = export_onnx(cfg, ckpt, out, shape=SHAPE, output='labels')
    assert result.verification.passed, result.verification.summary()
    x = image_to_input(read_image(default_images()[1]), SHAPE)
    (labels, ) = ort_session(out).run(None, {'image': x})
    assert labels.shape == (1, *SHAPE) and labels.dtype == np.int64
    ref = _torch_logits(cfg, ckpt, x).argmax(1)
    assert (labels == ref).mean() >= 0.9999


def test_dynamic_export_runs_at_several_sizes(student, tmp_path):
    cfg, ckpt = student
    out = str(tmp_path / 'dynamic.onnx')
    result = export_onnx(cfg, ckpt, out, shape=SHAPE, dynamic=True)
    report = result.verification
    assert report.passed, report.summary()
    assert report.checks[0].shape == (180, 240)  # the demo images' own size
    session = ort_session(out)
    img = read_image(default_images()[0])
    for size in ((64, 96), (37, 53)):
        x = np.repeat(image_to_input(img, size), 2, axis=0)  # batch 2
        (logits, ) = session.run(None, {'image': x})
        assert logits.shape == (2, NUM_CLASSES, *size)
        np.testing.assert_allclose(logits, _torch_logits(cfg, ckpt, x),
                                   atol=1e-3, rtol=0)


def test_dynamic_axial_export_states_its_exact_range(tmp_path):
    cfg, ckpt = write_plain_model(tmp_path, axial_model_cfg(span=8),
                                  'teacher_output')
    out = str(tmp_path / 'dynamic_axial.onnx')
    with pytest.warns(UserWarning, match='exact only while logit height > 8'):
        result = export_onnx(cfg, ckpt, out, shape=SHAPE, dynamic=True)
    assert result.notes == ['logit height > 8 (input height > ~32)',
                            'logit width > 8 (input width > ~32)']
    assert result.verification.passed  # demo images: 45x60 logits
    import onnx
    meta = {p.key: p.value for p in onnx.load(out).metadata_props}
    assert meta['mmseg_attnkd.dynamic_limits'] == ' and '.join(result.notes)
    x = image_to_input(read_image(default_images()[0]), (72, 100))
    (logits, ) = ort_session(out).run(None, {'image': x})
    np.testing.assert_allclose(logits, _torch_logits(cfg, ckpt, x),
                               atol=1e-3, rtol=0)
    # a student graph has no such limit
    student_cfg, student_ckpt = write_plain_model(
        tmp_path, student_model_cfg(), 'student')
    assert not export_onnx(student_cfg, student_ckpt,
                           str(tmp_path / 's.onnx'), shape=SHAPE,
                           dynamic=True, verify=False).notes


def test_verification_fails_when_the_graph_differs(student, tmp_path):
    cfg, ckpt = student
    out = str(tmp_path / 'student.onnx')
    export_onnx(cfg, ckpt, out, shape=SHAPE, verify=False)
    model = init_export_model(cfg, ckpt)
    with torch.no_grad():  # the PyTorch side no longer matches the file
        model.decode_head.conv_seg.bias.add_(0.01)
    with pytest.raises(VerificationError, match='max .delta logit. = 0.01'):
        verify_onnx(out, model)
    report = verify_onnx(out, model, strict=False)
    assert not report.passed and report.max_abs_diff > 1e-3


def test_cli_exports_and_verifies_teacher_output(tmp_path, capsys):
    cfg, ckpt = write_plain_model(tmp_path, axial_model_cfg(span=8),
                                  'teacher_output')
    out = str(tmp_path / 'cli.onnx')
    report = str(tmp_path / 'report.json')
    tool = load_tool('deployment/pytorch2onnx.py')
    img = default_images(1)
    rc = tool.main([cfg, ckpt, '--out', out, '--shape', *map(str, SHAPE),
                    '--output', 'labels', '--img', *img, '--report', report])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    assert 'PASSED' in printed and 'max |delta logit|' in printed
    assert osp.isfile(out)
    data = json.load(open(report))
    assert data['output'] == 'labels' and data['verification']['passed']
    assert [c['image'] for c in data['verification']['checks']] == img
