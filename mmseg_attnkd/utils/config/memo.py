# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Two things MMEngine 0.10.7 recomputes from unchanged input, kept once.

* :func:`memoize_config_formatting` - ``Config.pretty_text`` runs yapf over
  the whole config text every time it is read, and a training reads it
  again and again for one unchanged config: the Runner dumps it and logs
  it, the runtime-info hook stores it, and every checkpoint saves it once
  more. For a distillation config (two models) one yapf run costs about
  as much as a tiny training step; a 4-iteration ``tools/train.py`` run of
  the test suite spent about a third of its time re-formatting one text.
  yapf's answer is kept per (text, style): yapf is deterministic, so
  dumps, logs and checkpoints are byte-identical.
* :func:`memoize_external_config_index` - every ``_base_`` written as
  ``mmseg::...`` or ``mmrazor::...`` (this package's configs inherit
  MMSeg's models, schedules and runtime that way) makes MMEngine load and
  parse every ``metafile.yml`` of that package's ``.mim/model-index.yml``
  (53 YAML files for MMSeg) to find out whether the name is a released
  model, and a process that reads many configs asks about the same few
  names again and again. MMEngine's answer (its entry, or its error for a
  name that is no released model, such as a ``_base_`` file) is kept per
  (package folder, name); MMEngine's own function computes it.

Both are applied by ``import mmseg_attnkd`` (:func:`apply_memos`), are
idempotent and touch nothing else.
"""
import functools

__all__ = ['memoize_config_formatting', 'memoize_external_config_index',
           'apply_memos']

#: Distinct config texts kept (a few KB each).
CACHE_SIZE = 64


def memoize_config_formatting() -> bool:
    """Memoize MMEngine's yapf call; True if it is (or already was)."""
    from mmengine.config import config as mmengine_config
    format_code = getattr(mmengine_config, 'FormatCode', None)
    if format_code is None:
        return False
    if getattr(format_code, '_attnkd_memoized', False):
        return True

    @functools.lru_cache(maxsize=CACHE_SIZE)
    def _format(text: str, style: tuple):
        return format_code(text, style_config=dict(style))

    @functools.wraps(format_code)
    def memoized(text, style_config=None, **kwargs):
        if kwargs or not isinstance(text, str) or \
                not isinstance(style_config, dict):
            return format_code(text, style_config=style_config, **kwargs)
        style = tuple(sorted(style_config.items()))
        try:
            hash(style)
        except TypeError:  # an unhashable style value: no key
            return format_code(text, style_config=style_config)
        return _format(text, style)

    memoized._attnkd_memoized = True
    memoized.cache_info = _format.cache_info
    mmengine_config.FormatCode = memoized
    return True


def memoize_external_config_index() -> bool:
    """Keep MMEngine's answer for each ``package::`` config name; True if
    it is (or already was) kept."""
    from mmengine.config import utils as config_utils
    original = getattr(config_utils, '_get_cfg_metainfo', None)
    if original is None:
        return False
    if getattr(original, '_attnkd_memoized', False):
        return True
    import copy

    # (package folder, name) -> MMEngine's entry, or the message of its
    # ValueError (a ``_base_`` file is no released model: the common case,
    # which MMEngine answers by walking every metafile again)
    answers = {}

    @functools.wraps(original)
    def memoized(package_path: str, cfg_path: str) -> dict:
        key = (package_path, cfg_path)
        if key not in answers:
            try:
                answers[key] = (True, original(package_path, cfg_path))
            except ValueError as err:
                answers[key] = (False, str(err))
        found, answer = answers[key]
        if not found:
            raise ValueError(answer)
        return copy.deepcopy(answer)

    memoized._attnkd_memoized = True
    memoized.answers = answers
    config_utils._get_cfg_metainfo = memoized
    return True


def apply_memos() -> None:
    """Apply both memos (idempotent)."""
    memoize_config_formatting()
    memoize_external_config_index()
