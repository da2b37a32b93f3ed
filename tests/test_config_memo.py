# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""What ``import mmseg_attnkd`` keeps of MMEngine's work: each config text
formatted by yapf once (to yapf's own text), and MMSeg's metafile index
asked once per ``mmseg::`` base name (to the same configs)."""
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.config import config as mmengine_config
from yapf.yapflib.yapf_api import FormatCode

from mmseg_attnkd.utils.config.memo import (memoize_config_formatting,
                                            memoize_external_config_index)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_the_import_memoizes_and_is_idempotent():
    assert getattr(mmengine_config.FormatCode, '_attnkd_memoized', False)
    memoized = mmengine_config.FormatCode
    assert memoize_config_formatting() is True
    assert mmengine_config.FormatCode is memoized


def test_the_text_is_yapfs_and_formatted_once(monkeypatch):
    calls = []

    def counting(text, style_config=None, **kwargs):
        calls.append(text)
        return FormatCode(text, style_config=style_config, **kwargs)

    # a fresh memo over a counting yapf, as the import installs it
    monkeypatch.setattr(mmengine_config, 'FormatCode', counting)
    assert memoize_config_formatting() is True
    cfg = Config(dict(model=dict(type='EncoderDecoder', backbone=dict(
        type='ResNetV1c', depth=18, out_indices=(0, 1, 2, 3)),
        decode_head=dict(type='FCNHead', in_channels=512, channels=[
            1, 2, 3], num_classes=4)), work_dir='x'))
    first = cfg.pretty_text
    assert cfg.pretty_text == first and cfg.dump() == first
    assert len(calls) == 1
    # yapf's own answer for the same text and style
    style = dict(based_on_style='pep8',
                 blank_line_before_nested_class_or_def=True,
                 split_before_expression_after_opening_paren=True)
    assert first == FormatCode(calls[0], style_config=style)[0]
    # another config is formatted on its own; the first stays cached
    cfg.model.decode_head.num_classes = 5
    assert 'num_classes=5' in cfg.pretty_text
    assert len(calls) == 2
    assert Config(dict(cfg.to_dict(), model=dict(
        cfg.model.to_dict(), decode_head=dict(
            cfg.model.decode_head.to_dict(), num_classes=4)))
    ).pretty_text == first
    assert len(calls) == 2
    # a call it cannot key goes to yapf as it came
    mmengine_config.FormatCode('x=1', style_config='pep8')
    assert len(calls) == 3



def test_mmseg_bases_ask_mmengine_once_per_name(monkeypatch):
    import mmseg
    from mmengine.config import utils as config_utils
    memoized = config_utils._get_cfg_metainfo
    assert getattr(memoized, '_attnkd_memoized', False)
    assert memoize_external_config_index() is True
    assert config_utils._get_cfg_metainfo is memoized
    # a shipped config with mmseg:: bases, read with MMEngine's own walk
    # over the metafiles
    path = osp.join(REPO, 'configs', 'baselines',
                    'deeplabv3plus_r18-d8_4xb2-40k_camvid-360x480.py')
    original = memoized.__wrapped__
    monkeypatch.setattr(config_utils, '_get_cfg_metainfo', original)
    want = Config.fromfile(path).to_dict()
    # a fresh memo over a counting loader: one walk, then none
    loads = []
    load = config_utils.load
    monkeypatch.setattr(config_utils, 'load',
                        lambda *a, **k: loads.append(a) or load(*a, **k))
    assert memoize_external_config_index() is True
    assert config_utils._get_cfg_metainfo is not original
    assert Config.fromfile(path).to_dict() == want
    walked = len(loads)
    assert walked > 1  # model-index.yml and its metafiles
    assert Config.fromfile(path).to_dict() == want
    assert len(loads) == walked
    # a released model's entry, and MMEngine's error for a name that is
    # none (a _base_ file)
    package = osp.dirname(mmseg.__file__)
    name = 'fcn/fcn_r50-d8_4xb2-40k_cityscapes-512x1024.py'
    assert config_utils._get_cfg_metainfo(package, name) == \
        original(package, name)
    with pytest.raises(ValueError, match='but got _base_/x'):
        config_utils._get_cfg_metainfo(package, '_base_/x')
