# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Release helpers: OpenMMLab file names, hashes, training logs, metrics.

A released checkpoint is named ``{config_stem}_{YYYYMMDD_HHMMSS}-{hash8}.pth``
where ``hash8`` is the first 8 hex digits of the SHA-256 of the file as
written, the convention of the OpenMMLab model zoos. Its JSON training log
is copied beside it as ``{config_stem}_{YYYYMMDD_HHMMSS}.log.json``.
Command-line only (see :mod:`mmseg_attnkd.release`).
"""
import glob
import hashlib
import io
import json
import os
import os.path as osp
import re
import time
from typing import Dict, List, Optional, Union

import torch

from ..utils.checkpoint import atomic_write_bytes

__all__ = [
    'TIMESTAMP_RE', 'sha256_of_file', 'published_name', 'parse_published_name',
    'save_published', 'find_run_dir', 'find_json_log', 'read_json_log',
    'read_val_metrics', 'split_metrics', 'copy_json_log',
    'resumed_json_logs',
    'dataset_name_from_cfg', 'crop_size_from_cfg', 'build_metafile_entry'
]

#: ``YYYYMMDD_HHMMSS`` as MMEngine names its run folders.
TIMESTAMP_RE = re.compile(r'(\d{8}_\d{6})')
_PUBLISHED_RE = re.compile(r'^(?P<stem>.+)_(?P<ts>\d{8}_\d{6})-'
                           r'(?P<hash>[0-9a-f]{8})\.pth$')


def sha256_of_file(filename: str, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(filename, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def published_name(config_stem: str, timestamp: str, sha256: str) -> str:
    """``{config_stem}_{timestamp}-{sha256[:8]}.pth``.

    Raises:
        ValueError: ``timestamp`` is not ``YYYYMMDD_HHMMSS`` or ``sha256``
            is not a hex digest.
    """
    if not re.fullmatch(r'\d{8}_\d{6}', timestamp or ''):
        raise ValueError(f'timestamp {timestamp!r} must look like '
                         'YYYYMMDD_HHMMSS, e.g. 20240131_235959')
    if not re.fullmatch(r'[0-9a-f]{8,64}', sha256 or ''):
        raise ValueError(f'{sha256!r} is not a hex SHA-256 digest')
    return f'{config_stem}_{timestamp}-{sha256[:8]}.pth'


def parse_published_name(filename: str) -> Optional[Dict[str, str]]:
    """``{'stem', 'ts', 'hash'}`` of a published file name, else None."""
    match = _PUBLISHED_RE.match(osp.basename(filename))
    return match.groupdict() if match else None


def save_published(checkpoint: dict, out_dir: str, config_stem: str,
                   timestamp: Optional[str] = None) -> Dict[str, str]:
    """Serialise ``checkpoint`` once, hash the bytes, write the named file.

    The bytes are produced in memory so the file name (which contains the
    hash) does not influence its content; they are written atomically and
    durably (:func:`~mmseg_attnkd.utils.checkpoint.atomic_write_bytes`), so
    no partial file is left under the published name.

    Args:
        checkpoint: The dict to save.
        out_dir: Output folder (created).
        config_stem: Config file name without ``.py``.
        timestamp: ``YYYYMMDD_HHMMSS``; defaults to the checkpoint's
            ``meta['time']`` (when it was saved), else now.

    Returns:
        dict: ``path``, ``name``, ``sha256``, ``timestamp``.
    """
    if timestamp is None:
        meta_time = str((checkpoint.get('meta') or {}).get('time', ''))
        match = TIMESTAMP_RE.fullmatch(meta_time)
        timestamp = match.group(1) if match else time.strftime(
            '%Y%m%d_%H%M%S', time.localtime())
    buf = io.BytesIO()
    torch.save(checkpoint, buf)
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    name = published_name(config_stem, timestamp, sha)
    path = atomic_write_bytes(osp.join(out_dir, name), data)
    written = sha256_of_file(path)
    if written != sha:  # the disk gave back other bytes
        os.remove(path)
        raise IOError(f'{path}: SHA-256 after writing ({written[:8]}) '
                      f'differs from the serialised bytes ({sha[:8]}); the '
                      'disk may be full or failing.')
    return dict(path=path, name=name, sha256=sha, timestamp=timestamp)


def find_run_dir(work_dir: str,
                 timestamp: Optional[str] = None) -> Optional[str]:
    """The ``work_dir/YYYYMMDD_HHMMSS`` folder of one run.

    Args:
        work_dir: Runner work dir.
        timestamp: Pick this run; else the latest run that has a
            ``vis_data`` folder.
    """
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'work dir {work_dir!r} does not exist')
    runs = sorted(d for d in os.listdir(work_dir)
                  if TIMESTAMP_RE.fullmatch(d)
                  and osp.isdir(osp.join(work_dir, d, 'vis_data')))
    if timestamp is not None:
        return osp.join(work_dir, timestamp) if timestamp in runs else None
    return osp.join(work_dir, runs[-1]) if runs else None


def find_json_log(work_dir: str,
                  timestamp: Optional[str] = None) -> Optional[str]:
    """The JSON scalar log of a run (``vis_data/<ts>.json`` or scalars).

    Returns:
        str or None: Path of the log, None if the run wrote none.
    """
    run = find_run_dir(work_dir, timestamp)
    if run is None:
        return None
    vis = osp.join(run, 'vis_data')
    named = osp.join(vis, osp.basename(run) + '.json')
    if osp.isfile(named):
        return named
    scalars = osp.join(vis, 'scalars.json')
    if osp.isfile(scalars):
        return scalars
    others = sorted(glob.glob(osp.join(vis, '*.json')))
    return others[-1] if others else None


def read_json_log(filename: str) -> List[dict]:
    """Records of an MMEngine JSON log (one JSON object a line)."""
    records = []
    with open(filename, encoding='utf-8') as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f'{filename}:{n} is not JSON ({err}); is '
                                 'this an MMEngine json log?') from err
    return records


def read_val_metrics(filename: str, metric: str = 'mIoU') -> dict:
    """The last validation record of a JSON log (the one with ``metric``).

    Returns:
        dict: That record (e.g. ``{'mIoU': 71.2, 'teacher.mIoU': 78.0,
        'step': 80000, ...}``), or ``{}`` if the log has no validation.
    """
    found = {}
    for record in read_json_log(filename):
        if metric in record:
            found = record
    return found


def split_metrics(record: dict,
                  names=('mIoU', 'mAcc', 'aAcc')) -> Dict[str, dict]:
    """``{'student': {...}, 'teacher': {...}}`` from a validation record.

    MMRazor's ``SingleTeacherDistillValLoop`` logs student metrics under
    their own names and the teacher's with a ``teacher.`` prefix.
    """
    student = {n: float(record[n]) for n in names if n in record}
    teacher = {
        n: float(record['teacher.' + n])
        for n in names if 'teacher.' + n in record
    }
    return dict(student=student, teacher=teacher)


def _first_train_iter(log: str) -> Optional[int]:
    if not osp.isfile(log):
        return None
    for record in read_json_log(log):
        if 'loss' in record and 'iter' in record:
            return int(record['iter'])
    return None


def resumed_json_logs(work_dir: str, log: str) -> List[str]:
    """``log`` and, before it, the logs of the invocations it resumed.

    ``tools/train.py --resume`` writes a new ``YYYYMMDD_HHMMSS`` folder per
    invocation. While the previous run folder's log starts at an earlier
    iteration than the oldest log taken (so the latter resumed it), that
    log is taken too, oldest first, so a released training log covers the
    whole training; a separate earlier run starts where the next one does.
    """
    runs = sorted(d for d in os.listdir(work_dir)
                  if TIMESTAMP_RE.fullmatch(d)
                  and osp.isdir(osp.join(work_dir, d, 'vis_data')))
    logs = [log]
    here = osp.basename(osp.dirname(osp.dirname(log)))
    earlier = [d for d in runs if d < here]
    while earlier:
        previous = find_json_log(work_dir, earlier.pop())
        first, before = (_first_train_iter(logs[0]),
                         _first_train_iter(previous or ''))
        if first is None or before is None or before >= first:
            break
        logs.insert(0, previous)
    return logs


def copy_json_log(src: Union[str, List[str]], out_dir: str,
                  config_stem: str, timestamp: str) -> str:
    """Write a JSON log (or several, one after the other: a resumed
    training) to ``out_dir/{config_stem}_{timestamp}.log.json``."""
    dst = osp.join(out_dir, f'{config_stem}_{timestamp}.log.json')
    sources = [src] if isinstance(src, str) else list(src)
    with open(dst, 'wb') as out:
        for path in sources:
            with open(path, 'rb') as f:
                data = f.read()
            out.write(data if data.endswith(b'\n') or not data
                      else data + b'\n')
    return dst


def dataset_name_from_cfg(cfg) -> Optional[str]:
    """``'Cityscapes'`` from ``test_dataloader.dataset.type``."""
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    dataset = loader.get('dataset') or {}
    while isinstance(dataset, dict) and 'dataset' in dataset:  # wrappers
        dataset = dataset['dataset']
    name = dataset.get('type') if isinstance(dataset, dict) else None
    if not name:
        return None
    name = str(name).split('.')[-1]
    return name[:-len('Dataset')] if name.endswith('Dataset') and \
        name != 'Dataset' else name


def crop_size_from_cfg(cfg) -> Optional[str]:
    """``'512x1024'`` from ``crop_size = (512, 1024)``."""
    crop = cfg.get('crop_size')
    if isinstance(crop, (list, tuple)) and len(crop) == 2:
        return f'{crop[0]}x{crop[1]}'
    return None


def build_metafile_entry(name: str,
                         config: str,
                         weights: str,
                         metrics: Dict[str, dict],
                         collection: str,
                         training_log: Optional[str] = None,
                         dataset: Optional[str] = None,
                         iterations: Optional[int] = None,
                         crop_size: Optional[str] = None,
                         training_resources: Optional[str] = None,
                         teacher: Optional[dict] = None,
                         student: Optional[dict] = None,
                         metric_names=('mIoU', )) -> dict:
    """A metafile ``Models`` entry for a released distillation model.

    Args:
        name: Entry name (the config stem).
        config: Config path relative to the repository root.
        weights: URL or file name of the released checkpoint.
        metrics: From :func:`split_metrics` (distilled student, teacher).
        collection: ``In Collection`` value, e.g. ``'AttnFD'``.
        training_log: URL or file name of the JSON log.
        dataset: Dataset name for ``Results``.
        iterations: Training iterations.
        crop_size: ``'HxW'``.
        training_resources: e.g. ``'4x A100 GPUs'``.
        teacher: ``Name``/``Config``/``Weights`` of the teacher; its
            ``Metrics`` are filled from ``metrics['teacher']``.
        student: ``Name``/``Config``/``Metrics`` of the baseline student.
        metric_names: Which metrics to record.
    """
    def pick(values: dict) -> dict:
        return {k: round(float(values[k]), 2)
                for k in metric_names if k in values}

    metadata = {}
    if dataset:
        metadata['Training Data'] = dataset
    if training_resources:
        metadata['Training Resources'] = training_resources
    if iterations:
        metadata['Iterations'] = int(iterations)
    if crop_size:
        metadata['Crop Size'] = crop_size
    teacher = {k: v for k, v in (teacher or {}).items() if v is not None}
    if metrics.get('teacher'):
        teacher['Metrics'] = pick(metrics['teacher'])
    if teacher:
        metadata['Teacher'] = teacher
    student = {k: v for k, v in (student or {}).items() if v is not None}
    if student:
        metadata['Student'] = student
    entry = {'Name': name, 'In Collection': collection, 'Config': config}
    if metadata:
        entry['Metadata'] = metadata
    result = {'Task': 'Semantic Segmentation'}
    if dataset:
        result['Dataset'] = dataset
    result['Metrics'] = pick(metrics.get('student') or {})
    entry['Results'] = [result]
    entry['Weights'] = weights
    if training_log:
        entry['Training Log'] = training_log
    return entry
