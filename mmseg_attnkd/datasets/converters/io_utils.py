# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Small helpers shared by the dataset converters and their command lines."""
import argparse
import contextlib
import os
import os.path as osp
import sys
from typing import Iterator, List, Optional, Sequence, Tuple, TypeVar

import numpy as np
from PIL import Image

from ...utils.image_io import save_png

__all__ = [
    'parse_index_ranges', 'select_evenly', 'scaled_size', 'resize_image',
    'resize_label', 'save_png', 'prepare_split_dirs',
    'ConverterArgumentParser', 'positive_int', 'positive_float',
    'check_out_dir', 'cli_errors', 'one_line'
]

T = TypeVar('T')


def parse_index_ranges(spec: str) -> List[int]:
    """Parse ``'0-15'``, ``'16,17,19'`` or ``'0-3,8,10-11'`` to indices.

    Returns:
        list[int]: Sorted, unique, non-negative indices.

    Raises:
        ValueError: On an empty, malformed or reversed range.
    """
    out = set()
    text = str(spec).strip()
    if not text:
        raise ValueError('Empty index list; give e.g. "0-15" or "16,17".')
    for part in text.split(','):
        part = part.strip()
        try:
            if '-' in part:
                lo, hi = (int(v) for v in part.split('-', 1))
            else:
                lo = hi = int(part)
        except ValueError:
            raise ValueError(
                f'Cannot parse {part!r} in index list {spec!r}; use ranges '
                'and commas such as "0-15" or "0-3,8".') from None
        if lo < 0 or hi < lo:
            raise ValueError(
                f'Bad range {part!r} in {spec!r}: need 0 <= start <= end.')
        out.update(range(lo, hi + 1))
    return sorted(out)


def select_evenly(items: Sequence[T], limit: Optional[int]) -> List[T]:
    """Pick ``limit`` items spread evenly over ``items`` (deterministic).

    Item ``i`` of the result is ``items[floor((i + 0.5) * n / limit)]``, so
    the picks are centred in ``limit`` equal blocks of the (sorted) input:
    for CamVid, whose file names start with the sequence name, every
    sequence is represented in proportion to its length.

    Args:
        items: The candidates, in a fixed order.
        limit: How many to keep; None or >= len(items) keeps all.
    """
    n = len(items)
    if limit is None or limit >= n:
        return list(items)
    if limit <= 0:
        raise ValueError(f'limit must be positive, got {limit}.')
    return [items[int((i + 0.5) * n / limit)] for i in range(limit)]


def scaled_size(size: Tuple[int, int], scale: float) -> Tuple[int, int]:
    """``(W, H)`` multiplied by ``scale`` and rounded, at least 1 pixel."""
    if not scale > 0:
        raise ValueError(f'scale must be > 0, got {scale}.')
    return (max(1, int(round(size[0] * scale))),
            max(1, int(round(size[1] * scale))))


def resize_image(img: Image.Image, size: Tuple[int, int]) -> Image.Image:
    """Resize an intensity image to ``(W, H)``.

    Uses PIL's bilinear filter, which widens its support when shrinking, so
    a downscale averages over the covered area (no aliasing).
    """
    if img.size == tuple(size):
        return img
    return img.resize(tuple(size), Image.Resampling.BILINEAR)


def resize_label(label: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Resize a ``(H, W)`` uint8 label map to ``(W, H)`` by nearest."""
    if (label.shape[1], label.shape[0]) == tuple(size):
        return label
    return np.array(
        Image.fromarray(label).resize(tuple(size), Image.Resampling.NEAREST))


def prepare_split_dirs(out_dir: str, split: str) -> Tuple[str, str]:
    """Create and return ``out_dir/img_dir/<split>``, ``ann_dir/<split>``."""
    img_dir = osp.join(out_dir, 'img_dir', split)
    ann_dir = osp.join(out_dir, 'ann_dir', split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    return img_dir, ann_dir


# --------------------------------------------------------------------------
# command lines: a bad input ends in one line and a non-zero exit status
# --------------------------------------------------------------------------
class ConverterArgumentParser(argparse.ArgumentParser):
    """``argparse`` whose usage errors are one line (exit status 2).

    The line names the problem as argparse words it and points to
    ``--help`` for the options, instead of printing the whole usage block.
    """

    def error(self, message: str):
        self.exit(2, f'{self.prog}: error: {message}; run {self.prog} '
                  '--help for the options.\n')


def _positive(text: str, cast: type, noun: str, expected: str,
              example: str, range_example: str) -> float:
    """``cast(text)`` if it is a finite number > 0, else an argparse error
    naming what to pass."""
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'{text!r} is not {noun}; pass {example}') from None
    if not 0 < value < float('inf'):
        raise argparse.ArgumentTypeError(
            f'{text} is not {expected}; pass {range_example}')
    return value


def positive_int(text: str) -> int:
    """``argparse`` type: an integer > 0."""
    return _positive(text, int, 'an integer', '> 0', 'a whole number > 0',
                     'a whole number > 0')


def positive_float(text: str) -> float:
    """``argparse`` type: a finite number > 0."""
    return _positive(text, float, 'a number', 'a finite number > 0',
                     'a number > 0', 'e.g. 0.5')


def check_out_dir(out_dir: str, option: str = '--out-dir') -> None:
    """Refuse an output path that exists but is not a folder.

    Raises:
        NotADirectoryError: ``out_dir`` (or one of its parents) is a file.
    """
    path = osp.abspath(out_dir)
    while path and not osp.exists(path):
        parent = osp.dirname(path)
        if parent == path:
            break
        path = parent
    if osp.exists(path) and not osp.isdir(path):
        raise NotADirectoryError(
            f'{option} {out_dir!r}: {path!r} is a file, not a folder; pass '
            'a folder path (it is created if missing).')


def one_line(err: BaseException) -> str:
    """The message of ``err`` on one line, with a hint for OS errors."""
    if isinstance(err, OSError) and err.strerror and err.filename:
        # e.g. PermissionError from makedirs: "[Errno 13] Permission ..."
        what = err.filename
        if err.filename2:
            what = f'{what} -> {err.filename2}'
        text = (f'{err.strerror}: {what!r}; check the path and its '
                'permissions, or pass another one.')
    else:
        text = str(err) or type(err).__name__
        if type(err).__name__ == 'UnidentifiedImageError':
            text += (' (not a readable image: the file is damaged or has '
                     'another format; re-export it or remove it from the '
                     'input folder).')
    return ' '.join(text.split())


#: What a converter command line turns into one line + exit status 1:
#: missing or unreadable files and folders (``OSError``, including PIL's
#: ``UnidentifiedImageError``), bad values (``ValueError``) and a missing
#: optional reader (``ImportError``, e.g. nibabel).
CLI_INPUT_ERRORS = (OSError, ValueError, ImportError)


@contextlib.contextmanager
def cli_errors(prog: str,
               hints: Sequence[Tuple[str, str]] = ()) -> Iterator[None]:
    """End a converter command line on bad input with one line, status 1.

    Inside the block, an exception from :data:`CLI_INPUT_ERRORS` is printed
    to stderr as ``<prog>: error: <message>`` (the converters' messages say
    what is wrong and what to pass instead) and becomes ``SystemExit(1)``;
    anything else (a bug) keeps its traceback.

    Args:
        prog: The tool's name, first on the line.
        hints: ``(substring, fix)`` pairs: a message containing
            ``substring`` gets ``fix`` appended (for library messages that
            name the problem but not the command-line option to change).
    """
    try:
        yield
    except CLI_INPUT_ERRORS as err:
        text = one_line(err)
        for needle, fix in hints:
            if needle in text:
                text = f'{text} {fix}'
                break
        print(f'{osp.basename(prog)}: error: {text}', file=sys.stderr)
        raise SystemExit(1) from None
