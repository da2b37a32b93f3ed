# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Generated parts of Markdown files, kept between two HTML comments.

The model-zoo tables (``<!-- model-zoo:start [METHOD] -->``), the benchmark
tables of ``bench/README.md`` (``<!-- BEGIN name -->``) and the message
tables of ``docs/errors.md`` are all rewritten by :func:`replace_blocks`.
"""
import re
from typing import Callable, Optional

__all__ = ['replace_blocks', 'rewrite_blocks']


def replace_blocks(text: str, start: str, end: str,
                   render: Callable[[Optional[str]], str]) -> str:
    """Replace the body of every ``start`` ... ``end`` block of ``text``.

    Args:
        text: The Markdown text.
        start: Regular expression of the start marker; a named group
            ``arg`` in it (e.g. the method of a model-zoo marker) is passed
            to ``render``.
        end: The literal end marker.
        render: ``arg`` (None when the group did not match or is absent)
            -> the new body, without the surrounding newlines.

    Returns:
        str: The text with every block's body replaced; markers are kept.

    Raises:
        ValueError: The numbers of start and end markers differ.
    """
    starts = len(re.findall(start, text))
    if starts != text.count(end):
        raise ValueError(f'unbalanced markers: {starts} start(s) matching '
                         f'{start!r}, {text.count(end)} "{end}"')
    pattern = re.compile(f'(?P<start>{start})(?P<body>.*?)(?P<end>'
                         f'{re.escape(end)})', re.S)

    def replace(match: 're.Match') -> str:
        arg = match.groupdict().get('arg')
        return (f'{match.group("start")}\n{render(arg).strip(chr(10))}\n'
                f'{match.group("end")}')

    return pattern.sub(replace, text)


def rewrite_blocks(path: str, start: str, end: str,
                   render: Callable[[Optional[str]], str],
                   check: bool = False) -> bool:
    """:func:`replace_blocks` on a file, written atomically when it changes.

    Args:
        path: The Markdown file.
        start: See :func:`replace_blocks`.
        end: See :func:`replace_blocks`.
        render: See :func:`replace_blocks`.
        check: Only report; never write.

    Returns:
        bool: Whether the file was already up to date.
    """
    from ..utils.checkpoint import atomic_write_text
    with open(path, encoding='utf-8') as f:
        old = f.read()
    new = replace_blocks(old, start, end, render)
    if not check and new != old:
        atomic_write_text(path, new)
    return new == old
