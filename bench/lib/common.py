# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Shared pieces of the benchmark scripts.

* machine description (CPU model, cores, torch version, load average, the
  commit measured);
* peak-memory probes (``VmHWM`` of a fresh process);
* model dicts from the config files of ``configs/`` (:func:`config_model`,
  :func:`scratch_model`, :func:`r18_scale_models`), building one
  (:func:`build_model`) and a synthetic batch;
* markdown tables and results files (``bench/results``), whose tables are
  copied into the README (:mod:`bench.lib.readme`).

The paths (``common.REPO_ROOT``, ``common.BENCH_DIR``, ...) are those of
:mod:`bench.lib.paths`. Every benchmark model is a config file of
``configs/``; a study applies its own settings (width, classes, crop, a
method option) to the file's dict.
"""
import copy
import functools
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

from bench.lib.paths import (BENCH_DIR, README, REPO_ROOT,  # noqa: F401
                             RESULTS_DIR, RESULTS_PATHSPEC, rel)
from bench.lib.readme import refresh_readme

#: glibc returns blocks of this size or larger to the OS on free, so the
#: resident set follows live tensor memory closely (see :func:`rss_env`).
MMAP_THRESHOLD = 65536


# ---------------------------------------------------------------------------
# machine
# ---------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def git_commit(paths: Sequence[str] = (), root: str = REPO_ROOT) -> str:
    """``<sha>`` of HEAD, with ``+dirty`` if tracked files differ (only
    those under ``paths`` when given), results under ``bench/results``
    excepted: a protocol running in a frozen clone updates those."""
    try:
        sha = subprocess.run(['git', 'rev-parse', 'HEAD'],
                             cwd=root, capture_output=True,
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(
            ['git', 'status', '--porcelain', '--untracked-files=no', '--',
             *(paths or ['.']), f':(exclude){RESULTS_PATHSPEC}'], cwd=root,
            capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return 'unknown'
    return sha + ('+dirty' if dirty else '')


def machine_info() -> Dict[str, object]:
    """CPU model, usable cores, torch version/threads, load average and
    the commit measured."""
    import torch
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    try:
        load = os.getloadavg()
    except OSError:
        load = (float('nan'), ) * 3
    info = dict(
        cpu=cpu_model(),
        cores=cores,
        torch=torch.__version__,
        torch_threads=torch.get_num_threads(),
        python=platform.python_version(),
        loadavg_1m=round(load[0], 2),
        date=time.strftime('%Y-%m-%d %H:%M'),
        commit=git_commit())
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(0)
    return info


def machine_line(info: Dict[str, object]) -> str:
    dev = info.get('gpu') or f'{info["cpu"]}, {info["cores"]} cores'
    return (f'{dev}; torch {info["torch"]} ({info["torch_threads"]} threads);'
            f' 1-min load average {info["loadavg_1m"]} at start;'
            f' {info["date"]}' + (f'; commit {info["commit"][:12]}'
                                  if info.get('commit') else ''))


# ---------------------------------------------------------------------------
# memory
# ---------------------------------------------------------------------------
def current_rss_bytes() -> int:
    """Resident set size of this process now (``/proc/self/status``)."""
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    raise RuntimeError('no VmRSS in /proc/self/status (Linux only)')


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far (``VmHWM``).

    ``VmHWM`` is the high-water mark of this process's own address space.
    (``ru_maxrss`` is not used: Linux carries it over ``fork``/``exec``, so a
    child started by a large parent would report the parent's peak.)
    """
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) * 1024
    raise RuntimeError('no VmHWM in /proc/self/status (Linux only)')


def rss_env() -> Dict[str, str]:
    """Environment of a memory-measuring subprocess.

    ``MALLOC_MMAP_THRESHOLD_`` makes glibc serve every block of 64 KiB or
    more with ``mmap`` and unmap it on free, so freed tensors leave the
    resident set at once and ``VmHWM`` is the peak of live memory (plus
    small-block fragmentation), not the high-water mark of a caching heap.
    """
    env = dict(os.environ)
    env['MALLOC_MMAP_THRESHOLD_'] = str(MMAP_THRESHOLD)
    env.setdefault('PYTHONPATH', '')
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO_ROOT, env['PYTHONPATH']) if p)
    return env


def run_json_subprocess(args: Sequence[str], timeout: float = 1800) -> dict:
    """Run ``python args...`` in a fresh process; parse its last stdout line.

    Raises:
        RuntimeError: The process failed; its stderr tail is included.
    """
    proc = subprocess.run([sys.executable, *args], cwd=REPO_ROOT,
                          env=rss_env(), capture_output=True, text=True,
                          timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(
            f'{" ".join(args)} failed (exit {proc.returncode}):\n'
            f'{proc.stderr[-3000:]}')
    return json.loads(lines[-1])


def mib(nbytes: float) -> float:
    return nbytes / 2**20


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------
#: The R18-d8 scale of the overhead and parity benchmarks: MMSeg's
#: DeepLabV3+ R18-d8 student and its R50-d8 teacher (depth 50 or 101).
R18_STUDENT_CONFIG = 'configs/_base_/models/deeplabv3plus_r18-d8.py'
R50_TEACHER_CONFIG = 'configs/_base_/models/deeplabv3plus_r50-d8.py'


@functools.lru_cache(maxsize=None)
def _config_dict(path: str) -> dict:
    from mmengine.config import Config
    return Config.fromfile(path).to_dict()


def config_model(path: str, key: str = 'model') -> dict:
    """``key`` of a config file (``path`` relative to the repository) as
    a plain dict, a fresh copy."""
    return copy.deepcopy(_config_dict(osp.join(REPO_ROOT, path))[key])


def scratch_model(model: dict, num_classes: int,
                  crop_size: Tuple[int, int]) -> dict:
    """A segmentor dict of a config as the benchmarks train it, in place:
    from scratch (no ``pretrained``), BN for SyncBN (CPU and single-GPU
    runs), ``num_classes`` in every head, inputs padded to ``crop_size``."""
    from mmseg_attnkd.utils import replace_sync_bn
    model['pretrained'] = None
    model['data_preprocessor']['size'] = tuple(crop_size)
    for head in ('decode_head', 'auxiliary_head'):
        if head in model:
            model[head]['num_classes'] = num_classes
    return replace_sync_bn(model)


def r18_scale_models(num_classes: int, crop_size: Tuple[int, int],
                     teacher_depth: int = 50) -> Tuple[dict, dict]:
    """Student and teacher dicts of the R18-d8 scale
    (:data:`R18_STUDENT_CONFIG`, :data:`R50_TEACHER_CONFIG` at
    ``teacher_depth``), each a :func:`scratch_model`."""
    if teacher_depth not in (50, 101):
        raise ValueError(f'teacher_depth must be 50 or 101, got '
                         f'{teacher_depth}')
    teacher = config_model(R50_TEACHER_CONFIG)
    teacher['backbone']['depth'] = teacher_depth
    return (scratch_model(config_model(R18_STUDENT_CONFIG), num_classes,
                          crop_size),
            scratch_model(teacher, num_classes, crop_size))


#: Channel counts that scale with the base width (see :func:`with_width`).
_WIDTH_KEYS = dict(backbone=('stem_channels', 'base_channels'),
                   neck=('in_channels', 'out_channels'),
                   decode_head=('in_channels', 'channels', 'c1_in_channels',
                                'c1_channels'),
                   auxiliary_head=('in_channels', 'channels'))


def with_width(model: dict, width: int) -> dict:
    """The plain model at another base width, in place (a study's
    ``--width``; the protocols train the configs' widths).

    Every channel count of the backbone's stem and stages and of the neck
    and heads is scaled by ``width / base_channels`` of the config (at
    least 1 channel); the image channels and the classes stay.
    """
    base = model['backbone']['base_channels']
    if width == base:
        return model

    def scale(value):
        if isinstance(value, (list, tuple)):
            return [scale(v) for v in value]
        return max(1, value * width // base)

    for part, keys in _WIDTH_KEYS.items():
        for key in keys:
            if key in model.get(part, {}):
                model[part][key] = scale(model[part][key])
    return model


def build_model(cfg: dict, seed: Optional[int] = None):
    """Build an MMSeg segmentor or an MMRazor algorithm from a model dict.

    With ``seed``, the global torch RNG is seeded first, so construction
    and ``init_weights`` draw the same weights every time.
    """
    import mmseg_attnkd  # noqa: F401
    import torch
    from mmengine.registry import DefaultScope
    if seed is not None:
        torch.manual_seed(seed)
    cfg = copy.deepcopy(cfg)
    scope = cfg.pop('_scope_', 'mmseg')
    if scope == 'mmrazor':
        from mmrazor.registry import MODELS
    else:
        from mmseg.registry import MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg)
    if hasattr(model, 'init_weights'):
        model.init_weights()
    return model


def synthetic_batch(model, batch_size: int, size: Tuple[int, int],
                    num_classes: int, seed: int = 0) -> dict:
    """A preprocessed training batch (random image, blocky random labels).

    The content does not change the cost of a dense segmentation step; the
    same batch is reused for every arm.
    """
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    inputs, samples = [], []
    for _ in range(batch_size):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=gen,
                                    dtype=torch.uint8))
        coarse = torch.randint(0, num_classes, (1, 1, h // 8 + 1, w // 8 + 1),
                               generator=gen)
        label = torch.nn.functional.interpolate(
            coarse.float(), scale_factor=8, mode='nearest')[0, :, :h, :w]
        sample = SegDataSample()
        sample.gt_sem_seg = PixelData(data=label.long())
        sample.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w),
                                 pad_shape=(h, w)))
        samples.append(sample)
    return model.data_preprocessor(dict(inputs=inputs, data_samples=samples),
                                   training=True)


# ---------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------
def md_table(headers: Sequence[str], rows: List[Sequence[object]]) -> str:
    def fmt(v):
        if isinstance(v, float):
            return f'{v:.3g}' if abs(v) < 1000 else f'{v:.0f}'
        return str(v)

    lines = ['| ' + ' | '.join(headers) + ' |',
             '|' + '|'.join('---' for _ in headers) + '|']
    lines += ['| ' + ' | '.join(fmt(v) for v in row) + ' |' for row in rows]
    return '\n'.join(lines)


def write_text(path: str, text: str) -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
        f.write(text if text.endswith('\n') else text + '\n')
    os.replace(tmp, path)
    return path


def repo_relative(obj):
    """Paths inside the repository as repo-relative strings (results are
    committed and must not carry the machine's absolute paths)."""
    if isinstance(obj, dict):
        return {k: repo_relative(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [repo_relative(v) for v in obj]
    if isinstance(obj, str) and osp.isabs(obj):
        relative = osp.relpath(obj, REPO_ROOT)
        if not relative.startswith('..') or relative.startswith(
                osp.join('..', 'shared')):
            return relative  # in the repository, or the shared data folder
        return osp.join('<outside the repository>', osp.basename(obj))
    return obj


def write_json(path: str, data) -> str:
    return write_text(
        path, json.dumps(repo_relative(data), indent=1, sort_keys=False))


def save_results(out_dir: str, name: str, text: str, data=None,
                 readme: bool = True) -> None:
    """Write ``<name>.md`` (and ``<name>.json`` when ``data`` is given) to
    ``out_dir``; when that is ``bench/results`` and ``readme`` is set, copy
    the tables into ``bench/README.md`` too."""
    if data is not None:
        write_json(osp.join(out_dir, f'{name}.json'), data)
    write_text(osp.join(out_dir, f'{name}.md'), text)
    if readme and is_results_dir(out_dir):
        refresh_readme()


def is_results_dir(out_dir: str) -> bool:
    """Whether ``out_dir`` is the committed ``bench/results``, whose tables
    are copied into the READMEs (a test's temporary directory is not)."""
    return osp.abspath(out_dir) == osp.abspath(RESULTS_DIR)
