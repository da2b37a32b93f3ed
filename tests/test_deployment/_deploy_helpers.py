# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Tiny models, written as config + checkpoint the way the converters do."""
import os.path as osp

import torch
from mmengine.config import Config

from mmseg_attnkd.analysis.axial_variant import with_axial_refine_head
from mmseg_attnkd.testing import tiny_deeplabv3plus_cfg
from mmseg_attnkd.utils import build_segmentor

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NUM_CLASSES = 4
#: Small enough for milliseconds per forward; the DeepLabV3+ head's logits
#: are at stride 4, i.e. 12x16 here.
SHAPE = (48, 64)
#: AxialAttention2d of the tests; proj not zero-initialised, so the axial
#: block changes the logits and parity tests its maths.
AXIAL = dict(channels=16, num_heads=2, zero_init=False)
DATASET_META = dict(classes=('sky', 'road', 'car', 'tree'),
                    palette=[[0, 0, 128], [128, 64, 128], [64, 0, 128],
                             [128, 128, 0]])


def randomize(model: torch.nn.Module, seed: int = 1) -> torch.nn.Module:
    """Non-trivial BN statistics, so eval-mode parity tests them too."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(
                torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(
                torch.rand(m.running_var.shape, generator=gen) + 0.5)
    return model


def student_model_cfg() -> dict:
    cfg = tiny_deeplabv3plus_cfg(8, NUM_CLASSES, crop_size=SHAPE)
    cfg['decode_head']['dilations'] = (1, 2, 3, 4)
    return cfg


def axial_model_cfg(**axial) -> dict:
    args = dict(AXIAL, **axial)
    return with_axial_refine_head(student_model_cfg(), args).to_dict()


def write_plain_model(tmp_path, model_cfg: dict, name: str, seed: int = 0):
    """(config path, checkpoint path) of a plain MMSeg model."""
    torch.manual_seed(seed)
    model = randomize(build_segmentor(model_cfg), seed + 1)
    cfg_path = osp.join(str(tmp_path), f'{name}.py')
    ckpt_path = osp.join(str(tmp_path), f'{name}.pth')
    Config(dict(model=model_cfg, default_scope='mmseg',
                custom_imports=dict(imports=['mmseg_attnkd'],
                                    allow_failed_imports=False))).dump(
                                        cfg_path)
    torch.save(dict(meta=dict(dataset_meta=DATASET_META),
                    state_dict=model.state_dict()), ckpt_path)
    return cfg_path, ckpt_path
