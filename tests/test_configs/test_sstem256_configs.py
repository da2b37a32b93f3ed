# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""configs/sstem256/: every model of the ssTEM study (bench/sstem/run.py)
is a config file, equal to what the study trained and trains.

The study reads these files (bench/sstem/arms.py); what ties them to the
finished runs is recorded in bench/results/sstem_study_cpu.json: the digest
of each plain student (its paired initial weights' file name), the settings
digest of each run and the parameter counts of both outputs.
"""
import glob
import json
import os.path as osp

import pytest
from mmengine.config import Config

import mmseg_attnkd  # noqa: F401
from bench.lib import common, runs
from bench.sstem import arms as sstem_arms
from bench.sstem import config as sstem_config
from bench.sstem import data as sstem_data
from bench.sstem import run as sstem_run

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(REPO, 'configs', 'sstem256')
ARCH_ARMS = [(arch, arm) for arch in sstem_arms.ARCHS
             for arm in sstem_arms.ARMS]


def _committed() -> dict:
    with open(osp.join(common.RESULTS_DIR, 'sstem_study_cpu.json')) as f:
        return json.load(f)


def _config(arch: str, arm: str) -> Config:
    return Config.fromfile(
        osp.join(CONFIG_DIR, sstem_arms.CONFIGS[(arch, arm)]))


def _args(protocol: str = 'cpu'):
    return sstem_run.parse_args(['--protocol', protocol])


def _with_loss_defaults(model: dict) -> dict:
    """The SD distiller with the losses the config leaves to the package
    defaults spelled out (as the study records them)."""
    from mmseg_attnkd.models.distillers.axial_self_distiller import (
        DEFAULT_MSE, DEFAULT_TEACHER_CE)
    distiller = model['distiller']
    return dict(model, distiller=dict(
        distiller,
        teacher_ce=dict(DEFAULT_TEACHER_CE, **distiller.get('teacher_ce',
                                                            {})),
        mse=dict(DEFAULT_MSE, **distiller.get('mse', {}))))


def _json(value):
    """Tuples and lists alike, as the settings digests see them."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def test_every_protocol_model_has_a_config():
    assert set(sstem_arms.CONFIGS) == set(ARCH_ARMS)
    on_disk = {osp.basename(p)
               for p in glob.glob(osp.join(CONFIG_DIR, '[!_]*.py'))}
    assert on_disk == set(sstem_arms.CONFIGS.values())
    assert sstem_arms.CONFIG_DIR == 'configs/sstem256'


@pytest.mark.parametrize('arch', sstem_arms.ARCHS)
def test_plain_config_is_the_student_the_runs_trained(arch):
    """The plain model's digest is in the file name of the paired initial
    weights every run of that architecture started from."""
    model = _config(arch, 'baseline').model.to_dict()
    recorded = {osp.splitext(r['init'])[0].rsplit('_', 1)[1]
                for r in _committed()['runs'] if r['arch'] == arch}
    assert recorded == {runs.config_digest(model)}


@pytest.mark.parametrize('arch', sstem_arms.ARCHS)
def test_arms_share_the_student(arch):
    plain = _config(arch, 'baseline').model.to_dict()
    sd = _config(arch, 'sd').model.to_dict()
    assert sd['type'] == 'SegSelfDistill' and sd['architecture'] == plain
    assert sd['distiller']['type'] == 'AxialSelfDistiller'
    ce2 = _config(arch, 'ce2').model.to_dict()
    assert ce2['decode_head']['loss_decode'] == dict(
        plain['decode_head']['loss_decode'], loss_weight=2.0)
    ce2['decode_head']['loss_decode'] = plain['decode_head']['loss_decode']
    assert ce2 == plain


@pytest.mark.parametrize('arch,arm', ARCH_ARMS)
def test_config_model_equals_what_the_study_trains(arch, arm):
    """Under the protocols the study trains the file's model as it is (the
    SD losses the file leaves to the package defaults written out)."""
    model = _config(arch, arm).model.to_dict()
    if arm == 'sd':
        model = _with_loss_defaults(model)
    for protocol in sstem_arms.PROTOCOLS:
        assert _json(sstem_arms.arm_model(arch, arm, _args(protocol))) == \
            _json(model), protocol


@pytest.mark.parametrize('arch,arm', ARCH_ARMS)
def test_config_runtime_equals_what_the_study_trains(arch, arm,
                                                     monkeypatch):
    """The file's data, schedule and runtime are the cpu protocol's run
    config but for what only a run can know, and the test loop."""
    cfg = _config(arch, arm)
    size = tuple(_committed()['extra']['image'])
    monkeypatch.setattr(sstem_data, 'image_size',
                        lambda data_dir, split='test': size)
    run = sstem_config.train_cfg(arch, arm, 0, _args(), cfg.data_root,
                                 'work_dirs/run')
    assert set(run) == set(sstem_config.FILE_KEYS) | {'work_dir'}
    file_cfg = _json(cfg.to_dict())
    if arm == 'sd':
        file_cfg['model'] = _with_loss_defaults(file_cfg['model'])
    run = _json(run)
    assert run['visualizer'] == dict(file_cfg['visualizer'],
                                     name=f'visualizer:{arch}_{arm}_0')
    assert (file_cfg['resume'], run['resume']) == (False, True)
    # the study scores both outputs itself, outside the Runner's test loop
    assert run['test_cfg'] == dict(type='TestLoop')
    assert file_cfg['test_cfg'] == dict(
        type='mmrazor.SegSelfDistillTestLoop' if arm == 'sd' else 'TestLoop')
    for key in sstem_config.FILE_KEYS:
        if key not in ('visualizer', 'resume', 'test_cfg'):
            assert run[key] == file_cfg[key], key
    save_best = file_cfg['default_hooks']['checkpoint']['save_best']
    assert save_best == (['mIoU', sstem_arms.TEACHER_KEY] if arm == 'sd'
                         else ['mIoU'])


def test_configs_hold_the_cpu_protocol():
    proto = sstem_arms.PROTOCOLS['cpu']
    cfg = _config('pspnet', 'baseline')
    assert cfg.train_dataloader.batch_size == proto['batch']
    assert cfg.train_cfg.max_iters == proto['iters']
    assert cfg.train_cfg.val_interval == proto['val_interval']
    assert cfg.optim_wrapper.optimizer.type.lower() == proto['optimizer']
    assert cfg.optim_wrapper.optimizer.lr == proto['lr']
    assert tuple(cfg.crop_size) == proto['crop']
    assert tuple(cfg.model.test_cfg.stride) == proto['stride']
    assert cfg.img_scale == (round(1024 * proto['scale']), ) * 2
    assert cfg.model.backbone.base_channels == proto['width']
    unet = _config('unet', 'baseline').model
    assert unet.backbone.base_channels == proto['unet_width']


def test_every_committed_run_is_restored_from_its_config(monkeypatch):
    """The settings digest of each finished run, computed from the files
    today, is the one the run recorded (bench/sstem/schedule.py restores
    a run by it; tests/test_bench/test_committed_restore.py runs it)."""
    data = _committed()
    monkeypatch.setattr(sstem_data, 'image_size',
                        lambda data_dir, split='test': tuple(
                            data['extra']['image']))
    args = sstem_run.parse_args(['--protocol', data['args']['protocol']])
    assert len(data['runs']) == 36
    for r in data['runs']:
        assert sstem_config.run_config_sha(
            r['arch'], r['arm'], r['seed'], args, '/sstem/converted') == \
            r['config_sha'], (r['arch'], r['arm'], r['seed'])


@pytest.mark.parametrize('arch', sstem_arms.ARCHS)
def test_configs_build_the_measured_models(arch):
    """Plain MMSeg builds the plain config (``init_model``), the study's
    teacher-output model derives from the SD config, and both have the
    parameters the study measured (of the inference model: no auxiliary
    head)."""
    from mmseg.apis import init_model

    def count_parameters(model):  # the inference model's (no aux head)
        return sum(p.numel() for name, p in model.named_parameters()
                   if not name.startswith('auxiliary_head.'))

    costs = _committed()['costs'][arch]
    plain = init_model(_config(arch, 'baseline'), device='cpu')
    assert count_parameters(plain) == costs['student']['params']
    teacher = sstem_arms.build(
        dict(sstem_arms.teacher_output_model(arch, _args()),
             _scope_='mmseg'))
    assert count_parameters(teacher) == costs['teacher']['params']
