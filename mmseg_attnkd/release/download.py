# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Fetch a released checkpoint and check it against the hash in its name.

A metafile's ``Weights`` is either a full URL or a path relative to the
release base (:func:`resolve_weights_url`), so one metafile serves the
repository's own folder (the default base), a mirror or a local copy. A
released file is named ``..._{YYYYMMDD_HHMMSS}-{sha256[:8]}.pth``
(:mod:`.publish`): the download is written to a temporary file, its length
checked against ``Content-Length`` and its SHA-256 against that prefix, and
only then renamed into place. A truncated or altered file never appears
under the released name. Command-line only (``tools/download_model.py``).
"""
import difflib
import hashlib
import os
import os.path as osp
import urllib.parse
import urllib.request
from typing import Dict, Optional, Tuple

from .model_zoo import find_metafiles, load_metafile
from .publish import parse_published_name, sha256_of_file

__all__ = ['DownloadError', 'BASE_URL_ENV', 'default_base_url',
           'resolve_weights_url', 'find_model', 'model_url',
           'download_checkpoint']

#: Environment variable overriding the default release base.
BASE_URL_ENV = 'MMSEG_ATTNKD_ZOO_URL'


class DownloadError(RuntimeError):
    """A model name, URL or downloaded file that cannot be used (one line)."""


def default_base_url(repo_root: str) -> str:
    """``$MMSEG_ATTNKD_ZOO_URL`` if set, else the repository's own folder as
    a ``file://`` URL (the released files live in the repository)."""
    env = os.environ.get(BASE_URL_ENV)
    if env:
        return env
    return urllib.parse.urljoin(
        'file:', urllib.request.pathname2url(osp.abspath(repo_root)) + '/')


def resolve_weights_url(weights: str, base_url: str) -> str:
    """A full URL stays as it is; a relative one is joined to ``base_url``."""
    if urllib.parse.urlparse(weights).scheme in ('http', 'https', 'file'):
        return weights
    return base_url.rstrip('/') + '/' + weights.lstrip('/')


def find_model(name: str, configs_dir: str) -> Tuple[dict, str]:
    """The metafile entry named ``name`` and its metafile path.

    Raises:
        DownloadError: No entry of that name; the closest names are given.
    """
    entries: Dict[str, Tuple[dict, str]] = {}
    for path in find_metafiles(configs_dir).values():
        for model in load_metafile(path).get('Models') or []:
            entries[model.get('Name')] = (model, path)
    if name in entries:
        return entries[name]
    close = difflib.get_close_matches(name, [n for n in entries if n], 3)
    hint = (f'closest: {", ".join(close)}' if close else
            f'{len(entries)} released names, list them with --list')
    raise DownloadError(f'no released model named {name!r} in '
                        f'{configs_dir}/*/metafile.yml ({hint}).')


def _expected_hash(url: str) -> Tuple[str, str]:
    filename = osp.basename(urllib.parse.urlparse(url).path)
    parsed = parse_published_name(filename)
    if parsed is None:
        raise DownloadError(
            f'{filename!r} is not a released file name '
            '(<config>_<YYYYMMDD_HHMMSS>-<sha256[:8]>.pth), so it cannot be '
            'checked; publish it with tools/publish_model.py.')
    return filename, parsed['hash']


def download_checkpoint(url: str, out_dir: str,
                        timeout: float = 60.0) -> str:
    """Download ``url`` into ``out_dir``; return the checked file's path.

    A file already there under the same name is re-checked, not fetched
    again.

    Raises:
        DownloadError: Not a released name, unreachable, truncated, or its
            SHA-256 does not start with the prefix in its name.
    """
    filename, want = _expected_hash(url)
    os.makedirs(out_dir, exist_ok=True)
    target = osp.join(out_dir, filename)
    if osp.isfile(target) and sha256_of_file(target).startswith(want):
        return target
    tmp = target + '.part'
    digest, size, expected = hashlib.sha256(), 0, None
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, \
                open(tmp, 'wb') as f:
            length = resp.headers.get('Content-Length')
            expected = int(length) if length else None
            while True:
                try:
                    block = resp.read(1 << 20)
                except Exception:  # a connection cut mid-body
                    break
                if not block:
                    break
                digest.update(block)
                size += len(block)
                f.write(block)
        if expected is not None and size != expected:
            raise DownloadError(
                f'{filename}: truncated download ({size} of {expected} '
                'bytes); run the command again.')
        got = digest.hexdigest()
        if not got.startswith(want):
            raise DownloadError(
                f'{filename}: SHA-256 starts with {got[:8]}, its name says '
                f'{want}: the file is damaged or altered; do not use it, '
                'download it again or from another --base-url.')
        os.replace(tmp, target)
        return target
    except OSError as e:  # urllib.error.URLError is an OSError
        raise DownloadError(f'cannot download {url}: '
                            f'{getattr(e, "reason", e)}') from e
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def model_url(name: str, configs_dir: str,
              base_url: Optional[str] = None) -> str:
    """The URL of ``name``'s released weights under ``base_url``."""
    model, path = find_model(name, configs_dir)
    weights = model.get('Weights')
    if not weights:
        raise DownloadError(f'{name!r} in {path} has no Weights entry: it '
                            'is a config without released weights.')
    repo_root = osp.dirname(osp.abspath(configs_dir))
    return resolve_weights_url(weights,
                               base_url or default_base_url(repo_root))
