# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Every AttnFD config (and its matched baseline) builds its model."""
import glob
import os.path as osp
import re

import pytest
from mmengine.config import Config

import mmseg_attnkd  # noqa: F401
from mmseg_attnkd.models.distillers import AttnFDDistiller, auto_stages
from mmseg_attnkd.utils import adapt_cfg_to_environment

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
ATTNFD = sorted(glob.glob(osp.join(REPO, 'configs', 'attnfd', '*.py')))
NUM_CLASSES = dict(cityscapes=19, voc12aug=21, camvid=11, coco=171)


def _num_classes(path):
    for key, n in NUM_CLASSES.items():
        if key in osp.basename(path):
            return n
    raise AssertionError(f'unknown dataset in {path}')


def _baseline_of(path):
    match = re.search(r"'\.\./baselines/([^']+)'", open(path).read())
    assert match, f'{path} must inherit a configs/baselines/ config'
    return osp.join(REPO, 'configs', 'baselines', match.group(1))


# the student-alone baselines matched to the AttnFD configs
BASELINES = sorted({_baseline_of(p) for p in ATTNFD})


def test_config_set_is_complete():
    names = [osp.basename(p) for p in ATTNFD]
    assert len(names) == 7
    for key in ('cityscapes', 'voc12aug', 'camvid', 'coco-stuff164k'):
        assert any('deeplabv3plus-r18-d8' in n and key in n for n in names)
    assert sum('mobilenet-v2' in n for n in names) == 2
    assert any(n.startswith('attnfd_pspnet-r101-d8_pspnet-r18-d8') and
               '80k_cityscapes' in n for n in names)
    assert len(BASELINES) == 7  # one matched baseline per AttnFD config
    for path in BASELINES:
        assert osp.isfile(path)


@pytest.mark.parametrize('path', ATTNFD + BASELINES, ids=osp.basename)
def test_config_text_rules(path):
    text = open(path).read()
    code = [ln for ln in text.splitlines() if not ln.lstrip().startswith('#')]
    assert not any('://' in ln for ln in code), 'no URL may be downloaded'
    cfg = Config.fromfile(path)
    # written in the baseline, inherited by its AttnFD config
    assert cfg.custom_imports == dict(imports=['mmseg_attnkd'],
                                      allow_failed_imports=False)
    student = cfg.model.get('architecture', cfg.model)
    assert student.pretrained is None
    if path in ATTNFD:
        # the teacher's weights come from the command line
        assert 'teacher_ckpt' not in cfg and \
            cfg.model.get('teacher_ckpt') is None
        assert cfg.model.teacher.pretrained is None
        assert cfg.val_cfg.type == 'mmrazor.SingleTeacherDistillValLoop'
        # matched baseline: same student, data and schedule
        base = Config.fromfile(_baseline_of(path))
        assert student.to_dict() == base.model.to_dict()
        for key in ('train_dataloader', 'train_cfg', 'param_scheduler',
                    'optim_wrapper', 'val_dataloader'):
            assert cfg[key] == base[key], key
        # the package defaults, restated nowhere; the fitted attention is
        # read from its default place (keyed by teacher and stages)
        distiller = cfg.model.distiller
        for key in ('stages', 'teacher_attention', 'normalize',
                    'loss_weight', 'teacher_attention_ckpt'):
            assert key not in distiller, key


def test_attnfd_config_without_its_fit_names_the_fit_command(tmp_path,
                                                            monkeypatch):
    from mmrazor.registry import MODELS
    monkeypatch.chdir(tmp_path)  # no work_dirs/ fit from an earlier run here
    path = [p for p in ATTNFD if 'camvid' in p][0]
    cfg = Config.fromfile(path)
    cfg.model.distiller.probe_input_size = (32, 32)
    with pytest.raises(FileNotFoundError,
                       match=r"found no fit of this teacher and these stages "
                       r"at 'work_dirs/fit_teacher_attention/[0-9a-f]{12}-"
                       r"[0-9a-f]{8}/teacher_attention\.pth'.*"
                       r'`python tools/fit_teacher_attention\.py CONFIG`'):
        MODELS.build(cfg.model)


@pytest.mark.parametrize('path', ATTNFD, ids=osp.basename)
def test_attnfd_config_builds(path):
    from mmrazor.registry import MODELS
    cfg = Config.fromfile(path)
    adapt_cfg_to_environment(cfg)  # SyncBN -> BN without CUDA
    cfg.model.distiller.probe_input_size = (32, 32)  # a faster probe
    # no fitted file here (the test above): a seeded random attention
    cfg.model.distiller.update(teacher_attention='random',
                               teacher_attention_ckpt=None)
    model = MODELS.build(cfg.model)
    distiller = model.distiller
    assert isinstance(distiller, AttnFDDistiller)
    stages = distiller.stages
    assert len(stages) == (2 if 'pspnet' in osp.basename(path) else 3)
    assert stages[0]['teacher_channels'] == 2048  # R101 layer4
    assert all(s['teacher_channels'] == 512 for s in stages[1:])
    # the explicit stage list equals the 'auto' preset
    auto = auto_stages(model.architecture, model.teacher)
    assert [(s['student']['name'], s['teacher']['name']) for s in stages] == \
        [(s['student']['name'], s['teacher']['name']) for s in auto]
    n = _num_classes(path)
    assert model.architecture.decode_head.num_classes == n
    assert model.teacher.decode_head.num_classes == n
    assert all(not p.requires_grad for p in model.teacher.parameters())
    # AttnFD v2: the stages' terms and a CWD term on the logits
    assert sorted(distiller.distill_losses) == [
        f'loss_attnfd_{i}' for i in range(len(stages))
    ] + ['loss_cwd']
    assert type(distiller.distill_losses['loss_cwd']).__name__ == \
        'ChannelWiseDivergence'


@pytest.mark.parametrize('path', BASELINES, ids=osp.basename)
def test_baseline_config_builds(path):
    from mmseg.registry import MODELS
    cfg = Config.fromfile(path)
    adapt_cfg_to_environment(cfg)
    model = MODELS.build(cfg.model)
    assert model.decode_head.num_classes == _num_classes(path)
