# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Every MMSeg model family through the distillation wrappers, on CPU.

For every decode head type in MMSeg's registry one shipped config
(``mmseg/.mim/configs``) is the student of axial self-distillation; for a
few teacher/student pairs AttnFD (``stages='auto'``) and CWD on the logits
run between two shipped configs. Each model dict is used as a user copies
it (no ``_scope_``), with 4 classes, plain BN, no pretrained weights and
its data preprocessor's crop set to the tiny input; two training steps on
a random batch decide the outcome:

* ``works``: both steps ran and every loss was finite;
* ``refused``: this package stopped it with a one-line message;
* ``n/a``: the family needs a package that is not installed (mmdet,
  mmpretrain, ...), or MMSeg ships no config for the head;
* ``fails``: anything else (a traceback from the stack).

``tests/test_families/test_family_matrix.py`` runs the rows;
``tools/analysis/family_matrix.py`` writes the table of
``docs/families.md``.
"""
import copy
import functools
import glob
import math
import os.path as osp
import re
import traceback
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import torch

__all__ = [
    'Row', 'decode_head_types', 'stock_config_for', 'axial_sd_row',
    'pair_row', 'PAIRS', 'shrink_model_cfg', 'render_table', 'input_size_of',
    'stock_config_dir', 'load_stock_model', 'missing_package'
]

NUM_CLASSES = 4
INPUT_SIZE = (64, 64)
AXIAL = dict(channels=16, num_heads=2, span=32)
#: Families whose layers need a larger input than :data:`INPUT_SIZE`
#: (LR-ASPP pools with a 49x49 window at output stride 8).
FAMILY_INPUT_SIZES = {'mobilenet_v3': (400, 400)}
#: Teacher -> student pairs of stock configs for AttnFD and CWD (same
#: family, across families, transformer into CNN).
PAIRS: List[Tuple[str, str]] = [
    ('pspnet/pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py',
     'pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py'),
    ('deeplabv3plus/deeplabv3plus_r101-d8_4xb2-80k_cityscapes-512x1024.py',
     'deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py'),
    ('segformer/segformer_mit-b2_8xb1-160k_cityscapes-1024x1024.py',
     'segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py'),
    ('segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py',
     'deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py'),
    ('swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_'
     'ade20k-512x512.py',
     'deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py'),
    ('pidnet/pidnet-m_2xb6-120k_1024x1024-cityscapes.py',
     'pidnet/pidnet-s_2xb6-120k_1024x1024-cityscapes.py'),
    ('ocrnet/ocrnet_hr48_4xb2-80k_cityscapes-512x1024.py',
     'ocrnet/ocrnet_hr18s_4xb2-80k_cityscapes-512x1024.py'),
]
#: Filename hints of small variants, most preferred first.
_SMALL = ('r18', 'mobilenet', 'b0', 'tiny', '-s_', 'small', 'r50', 'base')
_MISSING_PACKAGES = ('mmdet', 'mmpretrain', 'mmcls', 'timm', 'clip',
                     'diffusers', 'ldm', 'open_clip')


class Row(NamedTuple):
    """One outcome of the matrix."""
    method: str  #: ``'axial-sd'``, ``'attnfd-auto'`` or ``'cwd'``
    name: str  #: head type, or ``'teacher -> student'``
    config: str  #: config path(s) below ``configs/``
    outcome: str  #: ``works`` / ``refused`` / ``n/a`` / ``fails``
    message: str  #: the refusal, the missing package or the error


def stock_config_dir() -> str:
    """MMSeg's shipped configs (``mmseg/.mim/configs``)."""
    import mmseg
    return osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs')


def decode_head_types() -> List[str]:
    """Every decode head MMSeg registers (``mmseg.models.decode_heads``:
    ``BaseDecodeHead`` subclasses and the other ``*Head`` classes there,
    e.g. MaskFormer's, which build on MMDetection), sorted by name; not
    this package's own ``AxialRefineHead``."""
    import mmseg.models  # noqa: F401  (registers the heads)
    from mmseg.models.decode_heads.decode_head import BaseDecodeHead
    from mmseg.registry import MODELS
    return sorted(
        name for name, cls in MODELS.module_dict.items()
        if isinstance(cls, type) and cls is not BaseDecodeHead and
        cls.__module__.startswith('mmseg.models.decode_heads') and
        (issubclass(cls, BaseDecodeHead) or name.endswith('Head')))


def missing_package(head_type: str) -> Optional[str]:
    """An optional package the head's module imports that is not
    installed (``mmdet`` for MaskFormer), or None."""
    import importlib.util
    import inspect
    import sys

    from mmseg.registry import MODELS
    cls = MODELS.get(head_type)
    source = inspect.getsource(sys.modules[cls.__module__])
    for package in _MISSING_PACKAGES:
        if re.search(rf'^\s*(from|import) {package}\b', source, re.M) and \
                importlib.util.find_spec(package) is None:
            return package
    return None


def _preference(path: str) -> Tuple[int, int, str]:
    name = osp.basename(path)
    rank = next((i for i, hint in enumerate(_SMALL) if hint in name),
                len(_SMALL))
    return rank, len(name), name


def _head_types_of(path: str) -> List[str]:
    """``[type]`` of the config's decode head (last stage of a cascade)."""
    from mmengine.config import Config
    try:
        model = Config.fromfile(path).get('model', {})
    except Exception:  # noqa: BLE001 - a config needing another package
        return []
    heads = model.get('decode_head')
    # a cascade's logits come from its last stage
    head = heads[-1] if isinstance(heads, (list, tuple)) and heads else heads
    return [head.get('type')] if isinstance(head, dict) else []


def _read(path: str) -> str:
    with open(path, encoding='utf-8') as f:
        return f.read()


@functools.lru_cache(maxsize=None)
def _configs_by_head() -> Dict[str, str]:
    """Head type -> one stock config using it as decode head.

    First the smallest variant (see ``_SMALL``) of every family folder,
    the smallest of them where several use the head; then, for heads still
    missing, the other configs whose text or
    ``_base_`` model file names the head, smallest first.
    """
    found: Dict[str, str] = {}
    root = stock_config_dir()
    families = [f for f in sorted(glob.glob(osp.join(root, '*')))
                if osp.isdir(f) and osp.basename(f) != '_base_']
    rest = []
    for family in families:
        paths = sorted(glob.glob(osp.join(family, '*.py')), key=_preference)
        for head in _head_types_of(paths[0]) if paths else []:
            if head not in found or \
                    _preference(paths[0]) < _preference(found[head]):
                found[head] = paths[0]
        rest += paths[1:]
    bases = {osp.basename(p): _read(p) for p in
             glob.glob(osp.join(root, '_base_', 'models', '*.py'))}
    for head in decode_head_types():
        if head in found:
            continue
        quoted = (f"'{head}'", f'"{head}"')
        with_head = [b for b, text in bases.items()
                     if any(q in text for q in quoted)]
        for path in sorted(rest, key=_preference):
            text = _read(path)
            if not any(q in text for q in quoted) and \
                    not any(b in text for b in with_head):
                continue
            if head in _head_types_of(path):
                found[head] = path
                break
    return {head: osp.relpath(path, root) for head, path in found.items()}


def stock_config_for(head_type: str) -> Optional[str]:
    """A shipped config (relative to :func:`stock_config_dir`) whose
    decode head (or last cascade stage) is ``head_type``; None if none."""
    return _configs_by_head().get(head_type)


def _walk(cfg: Any, fn) -> None:
    if isinstance(cfg, dict):
        fn(cfg)
        for value in cfg.values():
            _walk(value, fn)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _walk(value, fn)


def shrink_model_cfg(model: Dict, input_size=INPUT_SIZE) -> Dict:
    """A stock ``model`` dict for a CPU run: 4 classes, BN instead of
    SyncBN, no pretrained weights, the preprocessor's crop ``input_size``.
    The dict keeps no ``_scope_`` (as a user copies it)."""
    model = copy.deepcopy(model)
    model.pop('_scope_', None)
    model['pretrained'] = None

    def fix(d: Dict) -> None:
        if d.get('type') == 'SyncBN':
            d['type'] = 'BN'
        if 'num_classes' in d and d.get('num_classes') not in (None, 1):
            d['num_classes'] = NUM_CLASSES
        init = d.get('init_cfg')
        if isinstance(init, dict) and init.get('type') == 'Pretrained':
            d['init_cfg'] = None
        for key in ('pretrained', 'pretrain'):
            if isinstance(d.get(key), str):
                d[key] = None
        if isinstance(d.get('class_weight'), (list, tuple)):
            d['class_weight'] = None
        if 'min_kept' in d:
            d['min_kept'] = 16
        if d.get('type') == 'CLIPTextEncoder':
            _shrink_vocabulary(d)

    _walk(model, fix)
    pre = model.get('data_preprocessor')
    if isinstance(pre, dict):
        pre['size'] = tuple(input_size)
        pre['size_divisor'] = None  # SAN pads to 640 otherwise
    return model


def _shrink_vocabulary(text_encoder: Dict) -> None:
    """The first :data:`NUM_CLASSES` class names of a CLIP text encoder
    (SAN), given as its vocabulary: the model has that many classes, and
    the encoder embeds every name in each of its prompt templates at every
    forward (20 VOC names x 14 templates through a 12-layer transformer
    made this one row cost as much as the rest of a worker's rows)."""
    from mmseg.utils import get_classes
    names = text_encoder.get('vocabulary')
    if text_encoder.get('dataset_name'):
        names = get_classes(text_encoder['dataset_name'])
        if names and names[0] == 'background':  # as the encoder drops it
            names = names[1:]
    if names:
        text_encoder['vocabulary'] = list(names[:NUM_CLASSES])
        text_encoder['dataset_name'] = None


def input_size_of(rel_path: str) -> Tuple[int, int]:
    """The tiny input of a config: :data:`INPUT_SIZE`, or more for a family
    whose layers need it (see :data:`FAMILY_INPUT_SIZES`)."""
    return FAMILY_INPUT_SIZES.get(rel_path.split('/')[0], INPUT_SIZE)


def load_stock_model(rel_path: str) -> Dict:
    """The shrunk ``model`` of a shipped config (see
    :func:`shrink_model_cfg`), path relative to :func:`stock_config_dir`."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(stock_config_dir(), rel_path))
    # a ConfigDict: some heads (SAN) read their options as attributes
    return shrink_model_cfg(cfg.model, input_size_of(rel_path))


def _batch(size: Tuple[int, int] = INPUT_SIZE, n: int = 2,
           seed: int = 0) -> Dict:
    """Raw uint8 images with labels drawn in them, and edge maps (PIDNet)."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(n):
        coarse = torch.randint(0, NUM_CLASSES, (1, 1, 4, 4), generator=g)
        label = torch.nn.functional.interpolate(
            coarse.float(), size=size, mode='nearest').long()[0]
        img = (label.float() * 60 + torch.rand(3, *size, generator=g) * 40)
        edge = torch.zeros_like(label)
        edge[:, 1:] = (label[:, 1:] != label[:, :-1]).long()
        sample = SegDataSample(
            gt_sem_seg=PixelData(data=label),
            gt_edge_map=PixelData(data=edge),
            metainfo=dict(img_shape=size, ori_shape=size, pad_shape=size))
        inputs.append(img.clamp(0, 255).to(torch.uint8))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _train_two_steps(algo, size: Tuple[int, int] = INPUT_SIZE) -> None:
    from mmengine.optim import OptimWrapper
    algo.train()
    optim = OptimWrapper(torch.optim.SGD(
        [p for p in algo.parameters() if p.requires_grad], lr=1e-3))
    for step in range(2):
        log = algo.train_step(_batch(size, seed=step), optim)
        bad = [k for k, v in log.items()
               if not math.isfinite(float(torch.as_tensor(v).detach()))]
        if bad:
            raise FloatingPointError(f'non-finite losses {bad}')


def _one_line(text: str) -> str:
    return ' '.join(str(text).split())


def _classify(err: BaseException) -> Tuple[str, str]:
    """``(outcome, message)`` of an exception."""
    if isinstance(err, ModuleNotFoundError) or (
            isinstance(err, ImportError) and any(
                p in str(err) for p in _MISSING_PACKAGES)):
        return 'n/a', f'needs {getattr(err, "name", None) or err}'
    if 'install required packages' in str(err):  # VPD's own check
        return 'n/a', _one_line(str(err))
    frames = traceback.extract_tb(err.__traceback__)
    ours = bool(frames) and 'mmseg_attnkd' in frames[-1].filename and \
        'family_matrix' not in frames[-1].filename
    message = _one_line(f'{type(err).__name__}: {err}')
    missing = re.search(r"No module named '([\w.]+)'", str(err))
    if missing:
        return 'n/a', f'needs {missing.group(1)}'
    if ours and isinstance(err, (ValueError, TypeError, KeyError)):
        return 'refused', message
    return 'fails', message


def axial_sd_row(head_type: str) -> Row:
    """Axial self-distillation (``SegSelfDistill`` + ``AxialSelfDistiller``)
    on the stock config of ``head_type``, two training steps."""
    rel = stock_config_for(head_type)
    package = missing_package(head_type)
    if package is not None:
        return Row('axial-sd', head_type, rel or '', 'n/a',
                   f'needs {package}, which is not installed')
    if rel is None:
        return Row('axial-sd', head_type, '', 'n/a',
                   'no MMSeg config uses it as the (last) decode head')
    try:
        from mmrazor.registry import MODELS
        model = load_stock_model(rel)
        algo = MODELS.build(dict(
            _scope_='mmrazor', type='SegSelfDistill', architecture=model,
            distiller=dict(type='AxialSelfDistiller', axial=dict(AXIAL))))
        _train_two_steps(algo, input_size_of(rel))
    except Exception as err:  # noqa: BLE001 - every outcome is recorded
        return Row('axial-sd', head_type, rel, *_classify(err))
    return Row('axial-sd', head_type, rel, 'works', '')


def _logits_module(model: Dict) -> str:
    """``decode_head.conv_seg``, or the last cascade stage's."""
    heads = model.get('decode_head')
    if isinstance(heads, (list, tuple)):
        return f'decode_head.{len(heads) - 1}.conv_seg'
    return 'decode_head.conv_seg'


def _pair_distiller(method: str, teacher: Dict, student: Dict) -> Dict:
    if method == 'attnfd-auto':
        return dict(type='AttnFDDistiller', stages='auto',
                    teacher_attention='random')
    return dict(type='StageDistiller',
                stages=[(_logits_module(student), _logits_module(teacher))],
                loss=dict(type='ChannelWiseDivergence', tau=1,
                          loss_weight=5), loss_name='loss_cwd')


def pair_row(method: str, teacher: str, student: str) -> Row:
    """AttnFD (``'attnfd-auto'``) or CWD (``'cwd'``) from the stock config
    ``teacher`` into ``student``, two training steps."""
    name = f'{_short(teacher)} -> {_short(student)}'
    try:
        from mmrazor.registry import MODELS
        s_cfg, t_cfg = load_stock_model(student), load_stock_model(teacher)
        algo = MODELS.build(dict(
            _scope_='mmrazor', type='SegSingleTeacherDistill',
            architecture=s_cfg, teacher=t_cfg,
            distiller=_pair_distiller(method, t_cfg, s_cfg)))
        _train_two_steps(algo)
    except Exception as err:  # noqa: BLE001 - every outcome is recorded
        return Row(method, name, f'{teacher}, {student}', *_classify(err))
    return Row(method, name, f'{teacher}, {student}', 'works', '')


def _short(rel: str) -> str:
    """``pspnet_r101-d8`` of ``pspnet/pspnet_r101-d8_4xb2-...py``."""
    return '_'.join(osp.splitext(osp.basename(rel))[0].split('_')[:2])


def render_table(rows: List[Row]) -> str:
    """Markdown: counts, then one table per method."""
    lines = []
    for method in ('axial-sd', 'attnfd-auto', 'cwd'):
        part = [r for r in rows if r.method == method]
        if not part:
            continue
        counts = {o: sum(r.outcome == o for r in part)
                  for o in ('works', 'refused', 'n/a', 'fails')}
        lines += [f'### {method}', '',
                  ', '.join(f'{o}: {c}' for o, c in counts.items()), '',
                  '| Model | Config | Outcome | Message |',
                  '|---|---|---|---|']
        for r in part:
            msg = r.message.replace('|', '\\|')
            lines.append(f'| {r.name} | `{r.config}` | {r.outcome} | '
                         f'{msg} |')
        lines.append('')
    return '\n'.join(lines)
