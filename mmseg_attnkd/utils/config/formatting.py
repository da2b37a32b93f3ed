# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Format each config text with yapf once per process.

MMEngine 0.10.7's ``Config.pretty_text`` runs yapf over the whole config
text every time it is read, and a training reads it again and again for
one unchanged config: the Runner dumps it and logs it, the runtime-info
hook stores it, and every checkpoint saves it once more. For a
distillation config (two models) one yapf run costs about as much as a
tiny training step, so a short run spent a large share of its time
re-formatting the same text (about a third of a 4-iteration
``tools/train.py`` run of the test suite).

:func:`memoize_config_formatting` keeps yapf's answer per (text, style)
in ``mmengine.config.config``: yapf is deterministic, so dumps, logs and
checkpoints are byte-identical, only computed once. It is idempotent,
touches nothing else, and calls yapf as before for any call it cannot
key (extra arguments, an unhashable style).
"""
import functools

__all__ = ['memoize_config_formatting']

#: Distinct config texts kept (a few KB each).
CACHE_SIZE = 64


def memoize_config_formatting() -> bool:
    """Memoize MMEngine's yapf call; True if it is (or already was)."""
    try:
        from mmengine.config import config as mmengine_config
    except ImportError:  # pragma: no cover - MMEngine is a dependency
        return False
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
