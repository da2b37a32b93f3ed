# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Shared pieces of the benchmark scripts.

* machine description (CPU model, cores, torch version, load average);
* the benchmark models: DeepLabV3+ R18-d8 student and R50/R101-d8 teacher
  (MMSeg's own ``deeplabv3plus_r50-d8`` base, the R18 overrides of MMSeg's
  ``deeplabv3plus_r18-d8`` config), BN instead of SyncBN, no pretrained
  weights;
* distillation model configs for every arm (KD, CWD, AttnFD, axial SD);
* peak-memory probes (``VmHWM`` of a fresh process) and markdown output;
* README section replacement, so tables there are always generated.
"""
import copy
import json
import os
import os.path as osp
import platform
import re
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

BENCH_DIR = osp.dirname(osp.abspath(__file__))
REPO_ROOT = osp.dirname(BENCH_DIR)
RESULTS_DIR = osp.join(BENCH_DIR, 'results')
README = osp.join(BENCH_DIR, 'README.md')

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


#: What the benchmarks write into the tree (a git pathspec of
#: :data:`RESULTS_DIR`); not a change of the code.
RESULTS_PATHSPEC = 'bench/results'


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
def _mmseg_base(rel: str):
    from mmengine.config import Config
    from mmengine.utils import get_installed_path
    path = osp.join(get_installed_path('mmseg'), '.mim', 'configs', rel)
    return Config.fromfile(path)


def _bn(node):
    """SyncBN -> BN everywhere (CPU and single-GPU runs)."""
    from mmseg_attnkd.utils import replace_sync_bn
    return replace_sync_bn(node)


def deeplabv3plus_cfg(depth: int,
                      num_classes: int,
                      crop_size: Tuple[int, int],
                      with_aux: bool = True) -> dict:
    """MMSeg DeepLabV3+ ResNetV1c-``depth``-d8, from scratch, BN.

    ``depth`` 50/101 use MMSeg's ``deeplabv3plus_r50-d8`` base as is (101
    only changes the depth); 18 applies the overrides of MMSeg's
    ``deeplabv3plus_r18-d8`` configs (512-channel input, 128-channel head,
    12-channel low-level branch).

    Args:
        depth: 18, 50 or 101.
        num_classes: Classes of the decode/auxiliary heads.
        crop_size: ``(H, W)`` padded by the data preprocessor.
        with_aux: Keep MMSeg's FCN auxiliary head (weight 0.4).
    """
    model = _mmseg_base('_base_/models/deeplabv3plus_r50-d8.py').model
    model = copy.deepcopy(model.to_dict())
    model['_scope_'] = 'mmseg'
    model['pretrained'] = None
    model['backbone']['depth'] = depth
    model['data_preprocessor']['size'] = tuple(crop_size)
    model['decode_head']['num_classes'] = num_classes
    model['auxiliary_head']['num_classes'] = num_classes
    if depth == 18:
        model['decode_head'].update(
            c1_in_channels=64, c1_channels=12, in_channels=512, channels=128)
        model['auxiliary_head'].update(in_channels=256, channels=64)
    elif depth not in (50, 101):
        raise ValueError(f'depth must be 18, 50 or 101, got {depth}')
    if not with_aux:
        model.pop('auxiliary_head')
    return _bn(model)


STUDENT_DEPTH = 18


def deeplabv3plus_width_cfg(width: int,
                            num_classes: int,
                            crop_size: Tuple[int, int],
                            output_stride: int = 16) -> dict:
    """MMSeg DeepLabV3+ with a ResNetV1c-18 layout of ``width`` base channels.

    Stage channels are ``width * (1, 2, 4, 8)`` (``width=64`` is MMSeg's
    R18), ASPP ``2 * width`` channels, low-level branch ``width // 2``; the
    FCN auxiliary head (weight 0.4) on stage 3. ``output_stride`` 16 dilates
    the last stage, 8 the last two (MMSeg's ``-d8`` layout). From scratch,
    BN.

    Args:
        width: Base channels (8, 16, 32, 64, ...).
        num_classes: Classes of both heads.
        crop_size: ``(H, W)`` padded by the data preprocessor.
        output_stride: 16 or 8.
    """
    if output_stride == 16:
        dilations, strides = (1, 1, 1, 2), (1, 2, 2, 1)
    elif output_stride == 8:
        dilations, strides = (1, 1, 2, 4), (1, 2, 1, 1)
    else:
        raise ValueError(f'output_stride must be 8 or 16, got {output_stride}')
    norm_cfg = dict(type='BN', requires_grad=True)
    head = dict(num_classes=num_classes, norm_cfg=norm_cfg,
                align_corners=False, dropout_ratio=0.1)
    return dict(
        _scope_='mmseg',
        type='EncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor', mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_val=0,
            seg_pad_val=255, size=tuple(crop_size)),
        pretrained=None,
        backbone=dict(
            type='ResNetV1c', depth=18, stem_channels=width,
            base_channels=width, num_stages=4, out_indices=(0, 1, 2, 3),
            dilations=dilations, strides=strides, norm_cfg=norm_cfg,
            norm_eval=False, style='pytorch', contract_dilation=True),
        decode_head=dict(
            type='DepthwiseSeparableASPPHead', in_channels=width * 8,
            in_index=3, channels=width * 2, dilations=(1, 6, 12, 18),
            c1_in_channels=width, c1_channels=max(width // 2, 4),
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=1.0), **head),
        auxiliary_head=dict(
            type='FCNHead', in_channels=width * 4, in_index=2,
            channels=width, num_convs=1, concat_input=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=0.4), **head),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))


def cwd_distiller() -> dict:
    """MMRazor's CWD recipe: ChannelWiseDivergence on conv_seg, tau 1, w 5."""
    from mmseg_attnkd.testing import cwd_distiller
    return cwd_distiller()


def kd_distiller(num_classes: int, tau: float = 1.0,
                 loss_weight: float = 1.0) -> dict:
    """Logit KD: MMRazor ``KLDivergence`` on conv_seg logits, per pixel.

    ``KLDivergence(reduction='mean')`` averages over ``N*C*H*W`` elements;
    scaling by ``C`` makes it the per-pixel KL divergence averaged over
    pixels (``batchmean`` would sum over pixels and grow with resolution).
    tau 1 and weight 1 are MMRazor's defaults for this loss.
    """
    return _logit_distiller(
        dict(type='KLDivergence', tau=tau,
             loss_weight=loss_weight * num_classes, reduction='mean'),
        'loss_kd')


def _logit_distiller(loss: dict, name: str) -> dict:
    from mmseg_attnkd.testing import logit_distiller
    return logit_distiller(loss, name)


def attnfd_distiller(teacher_attention: str = 'random',
                     normalize: str = 'tensor',
                     loss_weight: float = 8.0) -> dict:
    """AttnFD with the package defaults (stages 'auto'), except a seeded
    random teacher attention in place of a fitted file (same compute)."""
    return dict(type='AttnFDDistiller', stages='auto',
                teacher_attention=teacher_attention, normalize=normalize,
                loss_weight=loss_weight)


def attnfd_axial_distiller(teacher_attention: str = 'random',
                           normalize: str = 'tensor',
                           loss_weight: float = 8.0) -> dict:
    """AttnFD (package defaults) plus axial self-distillation (defaults)."""
    return dict(
        attnfd_distiller(teacher_attention, normalize, loss_weight),
        type='AttnFDAxialDistiller')


def teacher_distill_cfg(student: dict, teacher: dict, distiller: dict,
                        teacher_ckpt: Optional[str] = None) -> dict:
    return dict(
        _scope_='mmrazor',
        type='SegSingleTeacherDistill',
        architecture=copy.deepcopy(student),
        teacher=copy.deepcopy(teacher),
        teacher_ckpt=teacher_ckpt,
        distiller=copy.deepcopy(distiller))


def axial_sd_cfg(student: dict, axial: Optional[dict] = None) -> dict:
    """``SelfDistill`` + ``AxialSelfDistiller`` with the package defaults."""
    distiller = dict(type='AxialSelfDistiller')
    if axial:
        distiller['axial'] = dict(axial)
    return dict(_scope_='mmrazor', type='SelfDistill',
                architecture=copy.deepcopy(student), distiller=distiller)


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


def _repo_relative(obj):
    """Paths inside the repository as repo-relative strings (results are
    committed and must not carry the machine's absolute paths)."""
    if isinstance(obj, dict):
        return {k: _repo_relative(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_repo_relative(v) for v in obj]
    if isinstance(obj, str) and osp.isabs(obj):
        rel = osp.relpath(obj, REPO_ROOT)
        if not rel.startswith('..') or rel.startswith(
                osp.join('..', 'shared')):
            return rel  # inside the repository, or the shared data folder
        return osp.join('<outside the repository>', osp.basename(obj))
    return obj


def write_json(path: str, data) -> str:
    return write_text(
        path, json.dumps(_repo_relative(data), indent=1, sort_keys=False))


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


def update_readme(section: str, markdown: str, readme: str = README) -> bool:
    """Replace the text between ``<!-- BEGIN section -->`` and ``END``.

    Returns:
        bool: Whether the README has that section (it is left alone if not).
    """
    from mmseg_attnkd.release.markdown_blocks import rewrite_blocks
    if not osp.isfile(readme):
        return False
    begin, end = f'<!-- BEGIN {section} -->', f'<!-- END {section} -->'
    with open(readme) as f:
        text = f.read()
    if begin not in text or end not in text:
        return False
    rewrite_blocks(readme, re.escape(begin), end, lambda _: markdown.strip())
    return True


def rel(path: str) -> str:
    return osp.relpath(path, REPO_ROOT)


#: README sections filled from ``bench/results/<name>.md``.
README_SECTIONS = ('overhead_cpu', 'parity', 'parity_stride2', 'axial_scaling',
                   'accuracy_cpu', 'accuracy_gpu', 'sd_loss_terms_camvid_cpu',
                   'sd_loss_terms_sstem_cpu', 'speed_cpu')


def refresh_readme(readme: str = README) -> List[str]:
    """Copy every ``bench/results/<section>.md`` into the README.

    Returns:
        list[str]: Sections that were updated.
    """
    done = []
    for name in README_SECTIONS:
        path = osp.join(RESULTS_DIR, f'{name}.md')
        if osp.isfile(path):
            with open(path) as f:
                if update_readme(name, f.read(), readme):
                    done.append(name)
    return done


if __name__ == '__main__':
    print('updated README sections:', refresh_readme())
