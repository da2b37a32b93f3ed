# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""configs/camvid240/: every model of the CamVid CPU protocol is a config
file, equal to what the protocol trains (bench/accuracy/arms.py and the
runtime of bench/accuracy/config.py), package defaults aside."""
import argparse
import inspect
import os.path as osp

import pytest
from mmengine.config import Config

import mmseg_attnkd  # noqa: F401
from bench.accuracy import arms as camvid_arms
from bench.accuracy import config as accuracy_config
from bench.camvid.arms import ARMS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REFINE = 'axial-refine_deeplabv3plus_r18-w16-d16_1xb8-2k_camvid-240x180.py'
RUNTIME_KEYS = ('custom_imports', 'default_scope', 'train_dataloader',
                'val_dataloader', 'test_dataloader', 'optim_wrapper',
                'param_scheduler', 'train_cfg', 'val_cfg', 'test_cfg',
                'default_hooks', 'env_cfg', 'log_processor', 'load_from',
                'resume')


def _defaults(cls) -> dict:
    """Keyword defaults of ``cls`` and the classes its ``**kwargs`` reach."""
    out = {}
    for klass in reversed(cls.__mro__):
        if '__init__' in vars(klass):
            out.update({k: p.default for k, p in inspect.signature(
                klass.__init__).parameters.items()
                if p.default is not inspect.Parameter.empty})
    return out


def _with_defaults(model: dict) -> dict:
    """Distiller dicts with their class's defaults filled in, so a config
    that leaves a package default out equals one that writes it."""
    from mmrazor.registry import MODELS
    distiller = model.get('distiller')
    if distiller:
        cls = MODELS.get(distiller['type'])
        full = {k: v for k, v in _defaults(cls).items()
                if k not in ('init_cfg', 'kwargs')}
        full.update(distiller)
        if isinstance(full.get('axial'), dict):
            full['axial'] = dict(_defaults(MODELS.get('AxialConnector')),
                                 **full['axial'])
            full['axial'].pop('in_channels', None)
        model = dict(model, distiller=full)
    return model


def test_every_protocol_model_has_a_config():
    assert set(camvid_arms.MAIN_ARMS) - {'sd_detach'} <= set(ARMS)
    on_disk = {osp.basename(p) for p in __import__('glob').glob(
        osp.join(REPO, 'configs', 'camvid240', '[!_]*.py'))}
    # plus the axial SD run's teacher output as a plain model (released)
    assert on_disk == set(ARMS.values()) | {REFINE}


@pytest.mark.parametrize('arm', sorted(ARMS))
def test_config_equals_what_the_protocol_trains(arm):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'camvid240', ARMS[arm]))
    model = cfg.model.to_dict()
    fitted = (model.get('distiller') or {}).get('teacher_attention_ckpt')
    proto = camvid_arms.PROTOCOLS['cpu']
    want, factor = camvid_arms.arm_model(
        arm, proto, None, model.get('teacher_ckpt'), {False: fitted})
    assert _with_defaults(model) == _with_defaults(want)
    iters = proto['teacher_iters'] if arm == 'teacher' else \
        proto['iters'] * factor
    args = argparse.Namespace(proto=proto, val_images=None, protocol='cpu')
    runtime = accuracy_config.train_cfg(
        want, args, cfg.data_root, seed=0, iters=iters,
        both_outputs=camvid_arms.has_axial_output(arm))
    for key in RUNTIME_KEYS:
        assert cfg.to_dict()[key] == runtime[key], key
    # the distillations read the file the teacher config's run writes
    if 'teacher_ckpt' in model:
        stem = osp.splitext(ARMS['teacher'])[0]
        assert model['teacher_ckpt'] == f'work_dirs/{stem}/iter_6000.pth'


def test_teacher_output_config_is_what_the_axial_export_writes():
    """The released teacher-output model's config equals the model
    ``convert_axial_ckpt_to_refine_head.py`` derives from the axial SD
    training config, so the converted weights load into it."""
    from mmengine.config import Config
    from mmseg_attnkd.utils import axial_refine_model_cfg
    sd = Config.fromfile(osp.join(REPO, 'configs', 'camvid240', ARMS['sd']))
    refine = Config.fromfile(osp.join(REPO, 'configs', 'camvid240', REFINE))
    axial = dict(sd.model.distiller.axial.to_dict(), in_channels=11)
    want = axial_refine_model_cfg(sd.model.architecture.to_dict(),
                                  'decode_head', axial)
    assert refine.model.to_dict() == want
