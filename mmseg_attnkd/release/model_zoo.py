# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""``configs/<method>/metafile.yml`` as the single source of results.

Metafiles follow the OpenMMLab/MMRazor schema::

    Collections:
      - Name: AttnFD
        Paper: {Title: ..., URL: ...}
        README: configs/attnfd/README.md
    Models:
      - Name: <config stem>
        In Collection: AttnFD
        Config: configs/attnfd/<config stem>.py
        Metadata:
          Training Data: Cityscapes
          Training Resources: 4x A100 GPUs
          Iterations: 80000
          Crop Size: 512x1024
          Teacher: {Name: ..., Config: ..., Weights: ..., Metrics: {mIoU: ..}}
          Student: {Name: ..., Config: ..., Metrics: {mIoU: ..}}  # baseline
          Training Config: configs/...  # when Config is the plain model's
          Parameters: 786054            # of the released model
          FLOPs: 1.2e9                  # one forward at the crop size
          Training Time: 1234.5         # seconds
        Results:
          - Task: Semantic Segmentation
            Dataset: Cityscapes
            Metrics: {mIoU: ..}                                  # distilled
        Weights: <url or file name>
        Training Log: <url or file name>

README tables are generated from them between ``<!-- model-zoo:start -->``
and ``<!-- model-zoo:end -->`` markers (:func:`update_readme`), so the
numbers exist in exactly one place: a table of the released models (with
``Weights``), then one line linking the configs not trained here.
Command-line only (see :mod:`mmseg_attnkd.release`).
"""
import copy
import difflib
import glob
import os
import os.path as osp
from typing import Dict, List, Optional, Tuple

import yaml

from ..utils.checkpoint import atomic_write_text
from .markdown_blocks import replace_blocks

__all__ = [
    'MARKER_START', 'MARKER_END', 'load_metafile', 'dump_metafile',
    'upsert_model', 'find_metafiles', 'is_released', 'render_table',
    'render_unreleased', 'render_readme_block',
    'update_readme', 'sync_readmes'
]

MARKER_START = '<!-- model-zoo:start -->'
MARKER_END = '<!-- model-zoo:end -->'
#: The start marker, optionally naming a method: ``<!-- model-zoo:start
#: attnfd -->``.
_START_RE = r'<!-- model-zoo:start(?:\s+(?P<arg>[\w\-./]+))?\s*-->'


def load_metafile(filename: str) -> dict:
    """Read a metafile; a missing file gives an empty one.

    Raises:
        ValueError: The file is not a mapping with a ``Models`` list.
    """
    if not osp.exists(filename):
        return dict(Collections=[], Models=[])
    with open(filename, encoding='utf-8') as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict) or not isinstance(
            data.setdefault('Models', []) or [], list):
        raise ValueError(f'{filename}: expected a mapping with a "Models" '
                         'list (OpenMMLab metafile schema)')
    data['Models'] = data.get('Models') or []
    data.setdefault('Collections', [])
    return data


def dump_metafile(data: dict, filename: str) -> None:
    """Write a metafile (key order kept, block style, atomic rename)."""
    atomic_write_text(
        filename,
        yaml.safe_dump(data, sort_keys=False, default_flow_style=False,
                       allow_unicode=True, width=1000))


def _merge(old: dict, new: dict) -> dict:
    out = copy.deepcopy(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif value is not None:
            out[key] = copy.deepcopy(value)
    return out


def upsert_model(data: dict, entry: dict,
                 collection: Optional[dict] = None) -> str:
    """Add ``entry`` to ``data['Models']`` or merge it into the same Name.

    Nested dicts are merged (a new ``Results`` list replaces the old one),
    so fields a release does not know (e.g. the baseline student mIoU) stay.

    Args:
        data: A loaded metafile (modified in place).
        entry: A model entry with at least ``Name``.
        collection: A ``Collections`` item to add if its Name is new.

    Returns:
        str: ``'added'`` or ``'updated'``.
    """
    if not entry.get('Name'):
        raise ValueError('a metafile model entry needs a "Name"')
    if collection is not None:
        names = [c.get('Name') for c in data['Collections']]
        if collection.get('Name') not in names:
            data['Collections'].append(copy.deepcopy(collection))
    for i, model in enumerate(data['Models']):
        if model.get('Name') == entry['Name']:
            data['Models'][i] = _merge(model, entry)
            return 'updated'
    data['Models'].append(copy.deepcopy(entry))
    return 'added'


def find_metafiles(configs_dir: str) -> Dict[str, str]:
    """``{method dir name: metafile path}`` for ``configs/*/metafile.yml``."""
    found = {}
    for path in sorted(glob.glob(osp.join(configs_dir, '*', 'metafile.yml'))):
        found[osp.basename(osp.dirname(path))] = path
    return found


def _metric(metrics: Optional[dict], name: str) -> str:
    if not metrics or metrics.get(name) is None:
        return '-'
    value = metrics[name]
    return f'{value:.2f}' if isinstance(value, (int, float)) else str(value)


def _link(text: str, target: Optional[str]) -> Optional[str]:
    return f'[{text}]({target})' if target else None


def _first_result(model: dict) -> dict:
    results = model.get('Results') or [{}]
    return results[0] if isinstance(results, list) else results


def _number(meta: dict, key: str, scale: float = 1.0,
            fmt: str = '{:.2f}') -> str:
    value = meta.get(key)
    if not isinstance(value, (int, float)):
        return '-' if value in (None, '') else str(value)
    return fmt.format(value / scale)


def _gain(result: Optional[dict], baseline: Optional[dict],
          metric: str) -> str:
    a, b = (result or {}).get(metric), (baseline or {}).get(metric)
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return '-'
    return f'{a - b:+.2f}'


def is_released(model: dict) -> bool:
    """Whether the entry has released weights (a ``Weights`` file/URL)."""
    return bool(model.get('Weights'))


def render_table(models: List[dict], metric: str = 'mIoU',
                 link_root: str = '') -> str:
    """A Markdown results table of released models, one row per entry.

    Columns: the model (its training config), teacher, dataset, crop size,
    iterations, the baseline student's and the released model's test
    ``metric`` and their difference, parameters (M), FLOPs (G, at the crop
    size), training time (h), hardware, the config that loads the released
    file, and the downloads.

    Args:
        models: Released metafile ``Models`` entries (see
            :func:`is_released`).
        metric: Metric name in ``Metrics``.
        link_root: Prefix for relative ``Config`` links (e.g. ``'../../'``
            for a README inside ``configs/<method>/``).
    """
    head = ['Model', 'Teacher', 'Dataset', 'Crop size', 'Iters',
            f'Baseline {metric}', f'{metric}', 'Gain', 'Params (M)',
            'FLOPs (G)', 'Train time (h)', 'Hardware', 'Config',
            'Download']
    lines = ['| ' + ' | '.join(head) + ' |',
             '|' + '|'.join([' --- '] * 2 + [' :---: '] * (len(head) - 2))
             + '|']

    def link(text, path):
        return _link(text, link_root + path if path and '://' not in path
                     else path)

    for model in models:
        meta = model.get('Metadata') or {}
        teacher = meta.get('Teacher') or {}
        student = meta.get('Student') or {}
        result = _first_result(model)
        config = model.get('Config')
        trained = meta.get('Training Config') or config
        downloads = [  # a relative file lives in the repository
            link('model', model.get('Weights')),
            link('log', model.get('Training Log'))
        ]
        row = [
            link(model.get('Name') or _stem(trained) or '-', trained) or '-',
            teacher.get('Name') or _stem(teacher.get('Config')) or '-',
            result.get('Dataset') or meta.get('Training Data') or '-',
            str(meta.get('Crop Size', '-')),
            str(meta.get('Iterations', '-')),
            _metric(student.get('Metrics'), metric),
            _metric(result.get('Metrics'), metric),
            _gain(result.get('Metrics'), student.get('Metrics'), metric),
            _number(meta, 'Parameters', 1e6),
            _number(meta, 'FLOPs', 1e9),
            _number(meta, 'Training Time', 3600.0, '{:.1f}'),
            str(meta.get('Training Resources', '-')),
            link('config', config) or '-',
            ' \\| '.join(d for d in downloads if d) or '-',
        ]
        lines.append('| ' + ' | '.join(_cell(c) for c in row) + ' |')
    return '\n'.join(lines)


def render_unreleased(models: List[dict], link_root: str = '') -> str:
    """One line linking the configs that have no released weights."""
    links = [_link(m.get('Name') or _stem(m.get('Config')) or '?',
                   link_root + m['Config']) for m in models
             if m.get('Config')]
    return (f'Configs, not trained here ({len(links)}): ' +
            ', '.join(links) + '.') if links else ''


def _cell(text: str) -> str:
    return str(text).replace('\n', ' ')


def _stem(path: Optional[str]) -> Optional[str]:
    if not path:
        return None
    return osp.splitext(osp.basename(str(path).split('::')[-1]))[0]


def render_readme_block(metafiles: Dict[str, str],
                        methods: Optional[List[str]] = None,
                        link_root: str = '',
                        headings: bool = True) -> str:
    """Tables for the given methods (all when None), one section each."""
    methods = list(metafiles) if methods is None else methods
    parts = []
    for method in methods:
        if method not in metafiles:
            close = difflib.get_close_matches(method, list(metafiles), n=3)
            hint = f' Did you mean: {", ".join(close)}?' if close else ''
            raise KeyError(f'no configs/{method}/metafile.yml for a '
                           f'model-zoo marker.{hint} Known: '
                           f'{", ".join(metafiles) or "none"}')
        data = load_metafile(metafiles[method])
        if not data['Models']:
            continue
        if headings:
            collections = data.get('Collections') or [{}]
            title = collections[0].get('Name') or method
            parts.append(f'### {title}\n')
        released = [m for m in data['Models'] if is_released(m)]
        if released:
            parts.append(render_table(released, link_root=link_root))
            parts.append('')
        others = render_unreleased(
            [m for m in data['Models'] if not is_released(m)], link_root)
        if others:
            parts.append(others)
            parts.append('')
    return '\n'.join(parts).strip('\n')


def update_readme(readme: str, metafiles: Dict[str, str], repo_root: str,
                  check: bool = False) -> Tuple[bool, str, str]:
    """Regenerate every marker block of one README.

    A block ``<!-- model-zoo:start METHOD -->`` gets METHOD's table; a bare
    ``<!-- model-zoo:start -->`` inside ``configs/<method>/`` gets that
    method's table, elsewhere every method's.

    Args:
        readme: README path.
        metafiles: From :func:`find_metafiles`.
        repo_root: Root that metafile ``Config`` paths are relative to.
        check: Do not write; only report whether the file is up to date.

    Returns:
        tuple: ``(up_to_date, old_text, new_text)``.
    """
    with open(readme, encoding='utf-8') as f:
        old = f.read()
    if '<!-- model-zoo:start' not in old:
        return True, old, old
    here = osp.relpath(osp.dirname(osp.abspath(readme)),
                       osp.abspath(repo_root))
    link_root = '' if here == '.' else '../' * len(here.split(os.sep))
    parts = here.split(os.sep)
    own_method = parts[1] if len(parts) == 2 and parts[0] == 'configs' \
        else None

    def render(arg: Optional[str]) -> str:
        if arg:
            return render_readme_block(metafiles, [arg], link_root, False)
        if own_method is not None:
            return render_readme_block(metafiles, [own_method], link_root,
                                       False)
        return render_readme_block(metafiles, None, link_root, True)

    try:
        new = replace_blocks(old, _START_RE, MARKER_END, render)
    except ValueError as err:
        raise ValueError(f'{readme}: {err}; every "{MARKER_START}" needs a '
                         f'"{MARKER_END}"') from None
    if not check and new != old:
        atomic_write_text(readme, new)
    return new == old, old, new


def sync_readmes(repo_root: str, readmes: Optional[List[str]] = None,
                 check: bool = False) -> Dict[str, Tuple[bool, str, str]]:
    """Run :func:`update_readme` on ``readmes`` (default: README.md and
    ``configs/*/README.md``) with the metafiles under ``configs/``."""
    metafiles = find_metafiles(osp.join(repo_root, 'configs'))
    if readmes is None:
        readmes = [osp.join(repo_root, 'README.md')] + sorted(
            glob.glob(osp.join(repo_root, 'configs', '*', 'README.md')))
    out = {}
    for readme in readmes:
        if osp.isfile(readme):
            out[readme] = update_readme(readme, metafiles, repo_root, check)
    return out
