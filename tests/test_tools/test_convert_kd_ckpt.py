# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""tools/model_converters/convert_kd_ckpt_to_student.py on a real run."""
import glob
import json
import os.path as osp

import pytest
import torch
from mmengine.runner import load_checkpoint

from mmseg_attnkd.analysis import load_dataset_samples
from mmseg_attnkd.release.publish import find_json_log, read_val_metrics
from mmseg_attnkd.utils import (build_distill_model, compare_keys,
                                get_state_dict, load_checkpoint_safely,
                                load_config)

from _tools_helpers import load_tool


@pytest.fixture(scope='module')
def converter():
    return load_tool('model_converters/convert_kd_ckpt_to_student.py')


def _logits(model, sample):
    data = dict(inputs=[t.clone() for t in sample.data['inputs']],
                data_samples=[d.clone() for d in sample.data['data_samples']])
    with torch.no_grad():
        return model.test_step(data)[0].seg_logits.data


def test_student_from_distill_config_matches_student_in_kd_model(
        cwd_run, converter, tmp_path):
    out = str(tmp_path / 'student.pth')
    converter.main([cwd_run['ckpt'], out, '--config', cwd_run['cfg']])

    ckpt = load_checkpoint_safely(out)
    assert set(ckpt) == {'meta', 'state_dict'}  # no optimizer/message hub
    keys = list(ckpt['state_dict'])
    assert not any(k.startswith(('architecture.', 'teacher.', 'distiller.'))
                   for k in keys)
    assert ckpt['meta']['dataset_meta']['classes'] == tuple(
        f'class{i}' for i in range(4))

    # plain MMSeg loads it with zero missing / unexpected keys
    from mmseg.apis import init_model
    plain = init_model(cwd_run['student_cfg'], None, device='cpu')
    report = compare_keys(ckpt['state_dict'], plain)
    assert report.ok, report.summary()
    load_checkpoint(plain, out, map_location='cpu', strict=True)
    plain.eval()

    # identical predictions to the student inside the distillation model
    kd = build_distill_model(cwd_run['cfg'], cwd_run['ckpt'])
    samples = load_dataset_samples(load_config(cwd_run['cfg']), 'val', 2)
    for sample in samples:
        expected = _logits(kd.student, sample)
        got = _logits(plain, sample)
        assert torch.equal(expected, got)
        # and the weights really come from the student, not the teacher
        assert expected.shape[0] == 4


def test_student_config_and_tools_test_run(cwd_run, converter, tmp_path):
    out = str(tmp_path / 'student.pth')
    converter.main([cwd_run['ckpt'], out,
                    '--student-config', cwd_run['student_cfg']])
    meta = load_checkpoint_safely(out)['meta']
    assert "type='EncoderDecoder'" in meta['cfg']  # the student's config

    work = str(tmp_path / 'test_work')
    load_tool('test.py').main([cwd_run['student_cfg'], out,
                               '--work-dir', work])
    results = glob.glob(osp.join(work, '*', '*.json'))
    assert results, 'tools/test.py wrote no metrics'
    metrics = json.loads(open(results[0]).read().splitlines()[-1])
    # the exported student scores exactly what the distillation run's
    # validation reported for its student at the same iteration (the test
    # and val splits of the generated data are the same)
    trained = read_val_metrics(find_json_log(cwd_run['work_dir']))
    assert trained['step'] == 2
    assert metrics['mIoU'] == trained['mIoU']


def test_mismatched_student_is_refused_unless_forced(cwd_run, converter,
                                                      tmp_path):
    out = str(tmp_path / 'bad.pth')
    with pytest.raises(ValueError) as err:
        converter.main([cwd_run['ckpt'], out, '--student-config',
                        cwd_run['wrong_student_cfg']])
    msg = str(err.value)
    assert 'shape-mismatched' in msg and 'decode_head.conv_seg' in msg
    assert '--force' in msg
    assert not osp.exists(out)

    converter.main([cwd_run['ckpt'], out, '--student-config',
                    cwd_run['wrong_student_cfg'], '--force'])
    state = get_state_dict(load_checkpoint_safely(out))
    assert state['decode_head.conv_seg.weight'].shape[0] == 4


def test_plain_checkpoint_is_rejected_with_hint(cwd_run, converter,
                                                tmp_path):
    plain = str(tmp_path / 'plain.pth')
    converter.main([cwd_run['ckpt'], plain, '--config', cwd_run['cfg']])
    with pytest.raises(KeyError, match='already a plain MMSeg checkpoint'):
        converter.main([plain, str(tmp_path / 'again.pth'),
                        '--config', cwd_run['cfg']])


def test_tools_test_scores_an_attnfd_checkpoint_without_the_fitted_file(
        attnfd_run, tmp_path):
    # a config in the default 'fitted' mode whose file is not on this
    # machine: the checkpoint holds the teacher attention
    from mmengine.config import Config
    cfg = Config.fromfile(attnfd_run['cfg'])
    cfg.model.distiller.update(teacher_attention='fitted',
                               teacher_attention_ckpt=str(tmp_path / 'no'))
    cfg_path = str(tmp_path / 'attnfd_fitted.py')
    cfg.dump(cfg_path)
    work = str(tmp_path / 'test_work')
    load_tool('test.py').main([cfg_path, attnfd_run['ckpt'],
                               '--work-dir', work])
    results = glob.glob(osp.join(work, '*', '*.json'))
    metrics = json.loads(open(results[0]).read().splitlines()[-1])
    # the student scores what the run's validation reported (same split)
    trained = read_val_metrics(find_json_log(attnfd_run['work_dir']))
    assert metrics['mIoU'] == pytest.approx(trained['mIoU'], abs=1e-6)
