# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""End-to-end: tools/train.py runs an AttnFD config on a generated dataset."""
import glob
import json
import os.path as osp

import torch
from mmengine.config import Config

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.testing import (synthetic_dataset_cfg, tiny_deeplabv3plus_cfg,
                                  tiny_runtime_cfg, tiny_teacher_distill_cfg)
from mmseg_attnkd.utils import (build_distill_model, build_segmentor,
                                convert_kd_checkpoint_to_student,
                                extract_student_state_dict,
                                load_checkpoint_safely)

from _tools_helpers import load_tool


def test_train_tool_runs_attnfd_and_logs_distill_losses(
        tmp_path, small_synthetic_data):
    data_root = small_synthetic_data
    work_dir = str(tmp_path / 'work')
    cfg = dict(
        custom_imports=dict(imports=['mmseg_attnkd'],
                            allow_failed_imports=False),
        model=tiny_teacher_distill_cfg(
            dict(type='AttnFDDistiller', stages='auto',
                 teacher_attention='random', loss_weight=2.0)),
        **synthetic_dataset_cfg(data_root, num_classes=4, batch_size=2),
        **tiny_runtime_cfg(work_dir, max_iters=4, val_interval=4,
                           checkpoint_interval=4, distill=True))
    cfg_path = str(tmp_path / 'attnfd_tiny.py')
    Config(cfg).dump(cfg_path)

    load_tool('train.py').main([cfg_path, '--work-dir', work_dir])

    logs = glob.glob(osp.join(work_dir, '*', '*.log'))
    assert logs, 'no log written'
    text = open(logs[0]).read()
    for i in range(3):
        assert f'distill.loss_attnfd_{i}' in text
    assert 'student.decode.loss_ce' in text
    scalars = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    rows = [json.loads(line) for line in open(scalars[0])]
    train_rows = [r for r in rows if 'distill.loss_attnfd_0' in r]
    assert len(train_rows) == 4
    assert all(r['distill.loss_attnfd_0'] > 0 for r in train_rows)

    # the checkpoint holds a plain student that MMSeg loads strictly
    ckpt = load_checkpoint_safely(osp.join(work_dir, 'iter_4.pth'))
    student = extract_student_state_dict(ckpt)
    from mmseg.registry import MODELS
    plain = MODELS.build(tiny_deeplabv3plus_cfg(8, 4))
    plain.load_state_dict(student, strict=True)
    assert not any(k.startswith('distiller.') for k in student)
    assert any(k.startswith('distiller.connectors.attnfd_0_student')
               for k in ckpt['state_dict'])
    assert torch.isfinite(next(iter(student.values()))).all()

    # converted, the student computes exactly what it computes inside the
    # trained distillation model
    converted = str(tmp_path / 'student.pth')
    convert_kd_checkpoint_to_student(
        osp.join(work_dir, 'iter_4.pth'), converted, plain)
    exported = build_segmentor(tiny_deeplabv3plus_cfg(8, 4),
                               checkpoint=converted)
    algo = build_distill_model(cfg_path, osp.join(work_dir, 'iter_4.pth'))
    inputs = torch.randn(2, 3, 64, 64,
                         generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(exported(inputs, mode='tensor'),
                           algo.architecture(inputs, mode='tensor'))
    # a config with a fitted attention file builds for inference without
    # that file: the checkpoint holds the teacher attention too
    cfg = Config.fromfile(cfg_path)
    # another seed: a build that ignored the checkpoint would differ
    cfg.model.distiller.update(teacher_attention='fitted',
                               teacher_attention_ckpt=str(tmp_path / 'no'),
                               teacher_attention_seed=7)

    def matches(model):
        state = model.distiller.teacher_attention_state_dict()
        assert state
        return all(
            torch.equal(v, ckpt['state_dict'][f'distiller.connectors.{k}'])
            for k, v in state.items())

    assert not matches(build_distill_model(cfg))
    assert matches(build_distill_model(cfg, osp.join(work_dir, 'iter_4.pth')))
