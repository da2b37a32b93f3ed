# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""tools/demo.py: paired initial weights per seed, the noise verdict and the
summary table (the training itself is covered by the config tests)."""
import argparse
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from _tools_helpers import load_tool


@pytest.fixture(scope='module')
def demo():
    return load_tool('demo.py')


def _build(cfg):
    """(student, model) of a demo config, built as tools/train.py would
    (the distillation model loads its ``teacher_ckpt``)."""
    from mmengine.registry import DefaultScope
    from mmrazor.registry import MODELS
    model = dict(cfg.model)
    scope = model.pop('_scope_', 'mmseg')
    with DefaultScope.overwrite_default_scope(scope):
        built = MODELS.build(model)
    built.init_weights()
    return (built.student if scope == 'mmrazor' else built), built


def test_every_stage_of_a_seed_starts_from_the_same_student(
        demo, tmp_path):
    """Baseline, AttnFD and axial SD of seed 1 start from one student; the
    AttnFD teacher is the checkpoint passed to the demo."""
    from mmseg_attnkd.utils import build_segmentor
    teacher_cfg = Config.fromfile(
        f'{demo.DEMO_CFG}/{demo.CONFIGS["teacher"]}').model
    torch.manual_seed(7)
    teacher = build_segmentor(teacher_cfg, eval_mode=False)
    teacher.init_weights()
    teacher_path = str(tmp_path / 'teacher.pth')
    torch.save(dict(meta={}, state_dict=teacher.state_dict()), teacher_path)
    # a random teacher has no fitted attention: a seeded random one
    args = argparse.Namespace(work_dir=str(tmp_path / 'work'),
                              teacher_checkpoint=teacher_path,
                              teacher_attention='random')
    init = demo.initial_weights(1, args)
    assert demo.initial_weights(1, args) == init  # saved once
    expected = torch.load(init, map_location='cpu')['state_dict']
    other = torch.load(demo.initial_weights(2, args),
                       map_location='cpu')['state_dict']
    assert any(not torch.equal(expected[k], other[k]) for k in expected)
    for name in demo.STAGES:
        cfg = Config.fromfile(demo.seed_config(name, 1, init, args))
        assert cfg.randomness.seed == 1
        # a different global seed must not matter: the file is loaded
        torch.manual_seed(123)
        student, model = _build(cfg)
        state = student.state_dict()
        for key, value in expected.items():
            assert torch.equal(state[key], value), (name, key)
        if name == 'attnfd':
            t_state = model.teacher.state_dict()
            for key, value in teacher.state_dict().items():
                assert torch.equal(t_state[key], value), key


def test_noise_verdict(demo):
    assert demo.noise_verdict([0.5], [40.0], [40.5]).startswith('one seed')
    # same sign, larger than both spreads (1.0 and 0.5)
    assert demo.noise_verdict([1.5, 2.0], [40.0, 41.0],
                              [41.5, 43.0]).startswith('outside')
    # same sign but within the baseline's spread
    assert demo.noise_verdict([0.4, 0.6], [40.0, 41.0],
                              [40.4, 41.6]).startswith('within')
    # same sign, above the baseline's spread, within the model's own
    assert demo.noise_verdict([4.2, 0.5], [40.0, 40.4],
                              [44.2, 40.9]).startswith('within')
    # large mean, signs differ
    assert demo.noise_verdict([-0.5, 6.0], [40.0, 40.1],
                              [39.5, 46.1]).startswith('within')
    assert demo.noise_verdict([-2.0, -3.0], [40.0, 40.5],
                              [38.0, 37.5]).startswith('outside')


def test_summary_pairs_the_seeds(demo):
    m = dict(params_str='1M', flops_str='1G', fps=10.0)
    rows = [dict(model='teacher', seed=None, mIoU=50.0, **m),
            dict(model='baseline student', seed=0, mIoU=40.0, **m),
            dict(model='AttnFD student', seed=0, mIoU=42.0, **m),
            dict(model='baseline student', seed=1, mIoU=44.0),
            dict(model='AttnFD student', seed=1, mIoU=45.0)]
    summary = {r['model']: r for r in demo.summarise(rows)}
    attnfd = summary['AttnFD student']
    assert attnfd['mIoU'] == pytest.approx(43.5)
    assert attnfd['delta'] == pytest.approx(1.5)  # mean of +2, +1
    assert attnfd['noise'].startswith('within')  # baseline spread is 4
    assert summary['teacher']['delta'] == pytest.approx(8.0)
    table = demo.format_table(list(summary.values()))
    assert '| AttnFD student | 43.50 | 42.00 / 45.00 | +1.50 |' in table
    assert '| teacher | 50.00 | 50.00 | +8.00 | - |' in table


def test_missing_teacher_is_one_line(demo, tmp_path):
    with pytest.raises(SystemExit) as err:
        demo.main(['--work-dir', str(tmp_path), '--teacher-checkpoint',
                   str(tmp_path / 'nope.pth'), '--data-root',
                   f'{demo.REPO}/demo/camvid_mini'])
    msg = str(err.value)
    assert 'demo teacher not found' in msg and '\n' not in msg
    assert 'bench/accuracy/run.py' in msg


def test_the_committed_attention_is_refused_for_another_teacher(demo,
                                                                tmp_path):
    other = tmp_path / 'other_teacher.pth'
    other.write_bytes(b'weights')
    argv = ['--work-dir', str(tmp_path), '--teacher-checkpoint', str(other),
            '--data-root', f'{demo.REPO}/demo/camvid_mini']
    with pytest.raises(SystemExit) as err:
        demo.main(argv)
    msg = str(err.value)
    assert 'fitted on the committed teacher' in msg and '\n' not in msg
    assert '--teacher-attention parameter_free' in msg
    with pytest.raises(SystemExit, match='does not exist'):
        demo.main(argv + ['--teacher-attention', str(tmp_path / 'x.pth')])
    # the committed pair goes together; a mode needs no file
    args = demo.parse_args([])
    args.teacher_checkpoint = osp.join(demo.REPO, demo.TEACHER_CKPT)
    demo.check_teacher_attention(args)
    assert args.teacher_attention == osp.join(demo.REPO,
                                              demo.TEACHER_ATTENTION)
    assert osp.isfile(args.teacher_attention)
    args = demo.parse_args(['--teacher-attention', 'parameter_free'])
    args.work_dir = str(tmp_path)
    demo.check_teacher_attention(args)
    cfg = Config.fromfile(demo.seed_config('attnfd', 0, 'init.pth', args))
    assert cfg.model.distiller.teacher_attention == 'parameter_free'
    assert cfg.model.distiller.teacher_attention_ckpt is None


def test_a_stage_is_reused_or_resumed_only_under_its_settings(demo,
                                                              tmp_path):
    import json
    work = tmp_path / 'stage'
    final = str(work / 'iter_4.pth')
    assert demo.stage_action(str(work), final, 'a', False) == 'train'
    work.mkdir()
    (work / 'STARTED.json').write_text(json.dumps(dict(digest='a')))
    assert demo.stage_action(str(work), final, 'a', False) == 'train'
    (work / 'last_checkpoint').write_text('iter_2.pth')
    assert demo.stage_action(str(work), final, 'a', False) == 'resume'
    assert demo.stage_action(str(work), final, 'b', False) == 'train'
    (work / 'iter_4.pth').write_bytes(b'w')
    (work / 'DONE.json').write_text(json.dumps(dict(digest='a')))
    assert demo.stage_action(str(work), final, 'a', False) == 'reuse'
    assert demo.stage_action(str(work), final, 'a', True) == 'train'
    # a student finished before the defaults changed (no digest)
    (work / 'DONE.json').write_text(json.dumps(dict(iters=4)))
    assert demo.stage_action(str(work), final, 'a', False) == 'train'
    # the digest follows the resolved settings: the teacher attention
    args = demo.parse_args(['--teacher-attention', 'parameter_free'])
    args.work_dir = str(tmp_path)
    opts = demo.schedule_options(4, 'data')
    first = demo.stage_digest(
        demo.seed_config('attnfd', 0, 'init.pth', args), opts)
    assert first == demo.stage_digest(
        demo.seed_config('attnfd', 0, 'init.pth', args), opts)
    args.teacher_attention = 'random'
    config = demo.seed_config('attnfd', 0, 'init.pth', args)
    second = demo.stage_digest(config, opts)
    assert first != second
    assert second != demo.stage_digest(config,
                                       demo.schedule_options(8, 'data'))


def test_the_committed_teacher_and_attention_build_the_demo_model(demo):
    # the default `make demo` path: the fitted file's checks (teacher
    # digest, stages, channels, CBAM options) pass for the committed teacher
    import torch
    from mmengine.registry import DefaultScope
    from mmrazor.registry import MODELS
    cfg = Config.fromfile(f'{demo.DEMO_CFG}/{demo.CONFIGS["attnfd"]}')
    with DefaultScope.overwrite_default_scope('mmrazor'):
        model = MODELS.build(cfg.model)
    distiller = model.distiller
    assert (distiller.teacher_attention, distiller.normalize,
            distiller.loss_weight) == ('fitted', 'tensor', 8.0)
    fitted = torch.load(osp.join(demo.REPO, demo.TEACHER_ATTENTION),
                        map_location='cpu', weights_only=True)['state_dict']
    state = distiller.teacher_attention_state_dict()
    assert state.keys() == fitted.keys()
    assert all(torch.equal(state[k], fitted[k]) for k in state)
