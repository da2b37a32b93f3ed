# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""MMEngine formats a config text with yapf once per process, to the same
text as yapf itself."""
from mmengine.config import Config
from mmengine.config import config as mmengine_config
from yapf.yapflib.yapf_api import FormatCode

from mmseg_attnkd.utils.config.formatting import memoize_config_formatting


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
