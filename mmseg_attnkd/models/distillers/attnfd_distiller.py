# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""AttnFD distiller: a short stage list expanded into MMRazor components.

Reference:
    Mansourian, Jalali, Ahmadi, Kasaei. "Attention-guided Feature
    Distillation for Semantic Segmentation", arXiv 2403.05451.
    Woo et al. "CBAM: Convolutional Block Attention Module", ECCV 2018.
"""
import difflib
import weakref
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmrazor.models.distillers import ConfigurableDistiller
from mmrazor.models.task_modules import RecorderManager
from mmrazor.registry import MODELS
from mmseg.models.decode_heads import DepthwiseSeparableASPPHead, PSPHead
from mmseg.models.decode_heads.decode_head import BaseDecodeHead

from ..attention.cbam import CBAM
from ..connectors.cbam_connector import CBAMConnector, TeacherCBAMConnector
from ..losses.attnfd_loss import NORMALIZE_MODES, AttnFDLoss
from .teacher_attention import (check_teacher_attention_meta,
                                teacher_state_dict)

#: ``teacher_attention`` choices: CBAM weights fitted on the frozen teacher
#: (``tools/fit_teacher_attention.py``), a fixed random CBAM, or the
#: parameter-free CBAM of the public code. ``'frozen'`` is the former name
#: of the two fixed-weight modes (fitted when a file is given).
TEACHER_ATTENTION_CHOICES = ('fitted', 'random', 'parameter_free', 'frozen')

StageSpec = Union[str, Sequence[str], Dict[str, Any]]

#: Stage roles used by ``stages='auto'`` for each head family.
AUTO_PRESETS = {
    'deeplabv3plus': ('backbone', 'context', 'decoder'),
    'pspnet': ('backbone', 'context'),
    'other': ('backbone', 'decoder'),
}
_RECORDS = ('outputs', 'inputs')
_STAGE_KEYS = ('student', 'teacher', 'record', 'student_record',
               'teacher_record', 'data_idx', 'student_data_idx',
               'teacher_data_idx')
_MANAGED = ('student_recorders', 'teacher_recorders', 'distill_deliveries',
            'connectors', 'distill_losses', 'loss_forward_mappings')


def _side(name: str, record: str = 'outputs',
          data_idx: Optional[int] = None) -> Dict[str, Any]:
    if record not in _RECORDS:
        raise ValueError(f'AttnFDDistiller: record must be one of {_RECORDS} '
                         f'(module outputs or module inputs), got {record!r}.')
    if record == 'inputs' and data_idx is None:
        data_idx = 0
    return dict(name=name, record=record, data_idx=data_idx)


def _normalize_stage(stage: StageSpec, index: int) -> Dict[str, Any]:
    """Turn one user stage entry into ``dict(student=side, teacher=side)``."""
    if isinstance(stage, str):
        return dict(student=_side(stage), teacher=_side(stage), label=stage)
    if isinstance(stage, (list, tuple)):
        if len(stage) != 2 or not all(isinstance(s, str) for s in stage):
            raise ValueError(
                f'AttnFDDistiller: stage {index} is {stage!r}; a list entry '
                'must be a (student_module, teacher_module) pair of names, '
                "e.g. ('backbone.layer4', 'backbone.layer4').")
        return dict(
            student=_side(stage[0]), teacher=_side(stage[1]), label=stage[0])
    if isinstance(stage, dict):
        unknown = sorted(set(stage) - set(_STAGE_KEYS))
        if unknown or 'student' not in stage or 'teacher' not in stage:
            raise ValueError(
                f'AttnFDDistiller: stage {index} is {stage!r}; a dict entry '
                "needs 'student' and 'teacher' module names and may set "
                f'{_STAGE_KEYS[2:]}. Unknown keys: {unknown}.')
        sides = {}
        for who in ('student', 'teacher'):
            sides[who] = _side(
                stage[who],
                record=stage.get(f'{who}_record', stage.get('record',
                                                            'outputs')),
                data_idx=stage.get(f'{who}_data_idx', stage.get('data_idx')))
        return dict(**sides, label=stage['student'])
    raise TypeError(
        f'AttnFDDistiller: stage {index} has type {type(stage).__name__}; '
        'use a module name, a (student, teacher) pair or a dict.')


def _check_module(model: nn.Module, name: str, who: str) -> None:
    names = [n for n, _ in model.named_modules() if n]
    if name in names:
        return
    close = difflib.get_close_matches(name, names, n=5, cutoff=0.5)
    hint = (f' Closest names: {close}.' if close else
            f' Top-level modules: {[n for n in names if "." not in n]}.')
    raise ValueError(
        f'AttnFDDistiller: the {who} has no module named {name!r}.{hint} '
        'Fix the stage list (names as in model.named_modules()).')


def _last_backbone_stage(model: nn.Module) -> Dict[str, Any]:
    """The module giving the backbone's deepest feature map."""
    backbone = model.backbone
    res_layers = getattr(backbone, 'res_layers', None)
    if isinstance(res_layers, (list, tuple)) and res_layers and all(
            isinstance(n, str) for n in res_layers):
        return _side(f'backbone.{res_layers[-1]}')
    layers = getattr(backbone, 'layers', None)
    if isinstance(layers, (list, tuple)) and layers and all(
            isinstance(n, str) for n in layers):
        out_indices = getattr(backbone, 'out_indices', None)
        last = max(out_indices) if out_indices else len(layers) - 1
        return _side(f'backbone.{layers[last]}')
    # any other backbone: its last output
    return _side('backbone', data_idx=-1)


def _auto_roles(model: nn.Module, who: str) -> Tuple[str, Dict[str, Dict]]:
    head = getattr(model, 'decode_head', None)
    if not isinstance(head, BaseDecodeHead) or not hasattr(model,
                                                           'backbone'):
        raise ValueError(
            f"AttnFDDistiller: stages='auto' needs an MMSeg segmentor with a "
            f'backbone and one decode_head, but the {who} is '
            f'{type(model).__name__} with decode_head '
            f'{type(head).__name__}. List the stages explicitly, e.g. '
            "stages=[('backbone.layer4', 'backbone.layer4')].")
    backbone = _last_backbone_stage(model)
    if isinstance(head, DepthwiseSeparableASPPHead):
        return 'deeplabv3plus', dict(
            backbone=backbone,
            context=_side('decode_head.bottleneck'),
            decoder=_side('decode_head.sep_bottleneck'))
    if isinstance(head, PSPHead):
        return 'pspnet', dict(
            backbone=backbone,
            context=_side('decode_head.bottleneck'),
            decoder=_side('decode_head.bottleneck'))
    return 'other', dict(
        backbone=backbone, decoder=_side('decode_head.conv_seg', 'inputs'))


def auto_stages(student: nn.Module,
                teacher: nn.Module) -> List[Dict[str, Any]]:
    """Stage pairs of ``stages='auto'`` for a student/teacher segmentor.

    DeepLabV3+ (``DepthwiseSeparableASPPHead``): backbone last stage, ASPP
    output (``decode_head.bottleneck``), decoder features before the
    classifier (``decode_head.sep_bottleneck``). PSPNet (``PSPHead``):
    backbone last stage and ``decode_head.bottleneck``. Any other head:
    backbone last stage and the input of ``decode_head.conv_seg``. When the
    two models have different head families, the backbone and
    pre-classifier ('decoder') features are paired.

    Returns:
        list[dict]: ``dict(student=side, teacher=side, label=role)`` with
        ``side = dict(name, record, data_idx)``.
    """
    s_kind, s_roles = _auto_roles(student, 'student')
    t_kind, t_roles = _auto_roles(teacher, 'teacher')
    roles = AUTO_PRESETS[s_kind] if s_kind == t_kind else ('backbone',
                                                          'decoder')
    return [
        dict(student=s_roles[r], teacher=t_roles[r], label=r) for r in roles
    ]


def _run_probe_forward(model: nn.Module, inputs: torch.Tensor) -> None:
    head = getattr(model, 'decode_head', None)
    if hasattr(model, 'extract_feat') and isinstance(head, BaseDecodeHead):
        feats = model.extract_feat(inputs)
        head.forward(feats)
        aux = getattr(model, 'auxiliary_head', None)
        if aux is not None:
            for aux_head in (aux if isinstance(aux, nn.ModuleList) else
                             [aux]):
                aux_head.forward(feats)
    else:
        model(inputs, mode='tensor')


def probe_channels(model: nn.Module, sides: List[Dict[str, Any]], who: str,
                   input_size: Tuple[int, int] = (64, 64)) -> List[int]:
    """Channel counts of recorded features, from one eval-mode forward.

    The forward runs under ``torch.no_grad()`` on a random
    ``[1, 3, H, W]`` input; training flags are restored afterwards, so BN
    statistics are untouched.

    Args:
        model: The segmentor.
        sides: ``dict(name, record, data_idx)`` for every stage.
        who: ``'student'`` or ``'teacher'`` (for error messages).
        input_size: ``(H, W)`` of the probe input.

    Returns:
        list[int]: ``C`` of every stage's ``[B, C, H, W]`` feature.
    """
    modules = dict(model.named_modules())
    captured: Dict[int, Any] = {}
    handles = []
    for i, side in enumerate(sides):

        def hook(module, inputs, outputs, i=i, side=side):
            if i not in captured:
                captured[i] = inputs if side['record'] == 'inputs' \
                    else outputs

        handles.append(modules[side['name']].register_forward_hook(hook))
    flags = [(m, m.training) for m in model.modules()]
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device('cpu')
    # input channels = those of the first convolution (3 for RGB models)
    first_conv = next(
        (m for m in model.modules() if isinstance(m, nn.modules.conv._ConvNd)),
        None)
    in_channels = first_conv.in_channels if first_conv is not None else 3
    gen = torch.Generator().manual_seed(0)
    inputs = torch.randn(1, in_channels, *input_size, generator=gen)
    try:
        model.eval()
        with torch.no_grad():
            _run_probe_forward(model, inputs.to(device))
    finally:
        for handle in handles:
            handle.remove()
        for module, flag in flags:
            module.training = flag

    channels = []
    for i, side in enumerate(sides):
        where = f'{who} module {side["name"]!r} ({side["record"]})'
        if i not in captured:
            raise ValueError(
                f'AttnFDDistiller: {where} did not run in a forward pass of '
                'the segmentor (backbone, decode head, auxiliary heads), so '
                'it cannot be distilled. Pick a module on the forward path.')
        data = captured[i]
        idx = side['data_idx']
        if isinstance(data, (list, tuple)):
            if idx is None:
                raise ValueError(
                    f'AttnFDDistiller: {where} gives a {type(data).__name__} '
                    f'of {len(data)} items; set {who}_data_idx in the stage '
                    'dict to pick one feature map.')
            if not -len(data) <= idx < len(data):
                raise ValueError(
                    f'AttnFDDistiller: {where} gives {len(data)} items; '
                    f'data_idx={idx} is out of range.')
            data = data[idx]
        elif idx is not None:
            raise ValueError(
                f'AttnFDDistiller: {where} gives one tensor, not a tuple; '
                f'remove {who}_data_idx from the stage dict.')
        if not isinstance(data, torch.Tensor) or data.dim() != 4:
            shape = tuple(data.shape) if isinstance(data, torch.Tensor) \
                else type(data).__name__
            raise ValueError(
                f'AttnFDDistiller: {where} gives {shape}, but AttnFD needs a '
                '[B, C, H, W] feature map. Pick a convolutional stage.')
        channels.append(int(data.shape[1]))
    return channels


@MODELS.register_module()
class AttnFDDistiller(ConfigurableDistiller):
    """Attention-guided feature distillation (AttnFD) for segmentation.

    For each stage ``i`` the student feature goes through a trainable CBAM
    and a 1x1 conv + BN to the teacher's channels (:class:`CBAMConnector`),
    the teacher feature through a CBAM that is never trained
    (:class:`TeacherCBAMConnector`), and :class:`AttnFDLoss` compares the
    L2-normalised results. The losses are named ``loss_attnfd_{i}`` (logged
    as ``distill.loss_attnfd_{i}``); the total objective is the student's
    own loss plus ``loss_weight`` times the sum over stages.

    Recorders, connectors, losses and ``loss_forward_mappings`` are built
    when both models are known (``prepare_from_student`` and
    ``prepare_from_teacher``, called by ``SingleTeacherDistill.__init__``,
    i.e. before the optimizer exists). Channel counts come from one
    eval-mode forward of each model on a small random input.

    Args:
        stages: ``'auto'`` (see :func:`auto_stages`) or a list whose items
            are a module name used on both sides, a
            ``(student_module, teacher_module)`` pair, or a dict
            ``dict(student=..., teacher=..., record='outputs'|'inputs',
            data_idx=None)`` (``record``/``data_idx`` may be given per side
            as ``student_record``, ``teacher_data_idx``, ...). Module names
            are those of ``model.named_modules()``, e.g.
            ``'backbone.layer4'``, ``'decode_head.bottleneck'``.
        teacher_attention: ``'fitted'`` (paper: a CBAM trained on the frozen
            teacher, read from ``teacher_attention_ckpt`` as written by
            ``tools/fit_teacher_attention.py``), ``'random'`` (a fixed,
            randomly initialised CBAM; with ``'channel'`` normalisation its
            channel weights divide out) or ``'parameter_free'`` (public
            code). ``'frozen'`` means ``'fitted'`` when a file is given and
            ``'random'`` otherwise. Defaults to ``'random'``.
        teacher_attention_seed: Seed of the random teacher CBAM of stage 0
            (stage ``i`` uses ``seed + i``). Defaults to 0.
        teacher_attention_ckpt: Fitted teacher-attention file (required by
            ``'fitted'``). Its recorded teacher, stages, channels and CBAM
            options must match, else the build stops. A file without that
            record (e.g. an AttnFD run checkpoint with keys
            ``distiller.connectors.attnfd_{i}_teacher.cbam.*``) is loaded by
            key and shape only.
        normalize: ``'channel'`` (paper), ``'tensor'`` (one norm per sample)
            or ``'batch'`` (public code, batch-size dependent), see
            :class:`AttnFDLoss`. Defaults to ``'channel'``.
        loss_weight: ``lambda`` of every stage loss. Defaults to 2.0.
        spatial_norm: BatchNorm after the CBAM spatial convolution (both
            sides), as in the original CBAM. Defaults to False.
        reduction: CBAM MLP reduction ratio. Defaults to 16.
        kernel_size: CBAM spatial kernel. Defaults to 7.
        min_hidden: CBAM minimum MLP width. Defaults to 8.
        align: 1x1 conv + BN from student to teacher channels after the
            student CBAM. Defaults to True. If False, channels must match.
        align_norm_cfg: Norm layer of the alignment. Defaults to BN.
        probe_input_size: ``(H, W)`` of the channel probe input. Defaults to
            ``(64, 64)``.
        init_cfg: MMEngine init config. Defaults to None.
    """

    def __init__(self,
                 stages: Union[str, List[StageSpec]] = 'auto',
                 teacher_attention: str = 'random',
                 teacher_attention_seed: int = 0,
                 teacher_attention_ckpt: Optional[str] = None,
                 normalize: str = 'channel',
                 loss_weight: float = 2.0,
                 reduction: int = 16,
                 kernel_size: int = 7,
                 min_hidden: int = 8,
                 align: bool = True,
                 align_norm_cfg: Optional[Dict] = None,
                 spatial_norm: bool = False,
                 probe_input_size: Tuple[int, int] = (64, 64),
                 init_cfg: Optional[Dict] = None,
                 **kwargs) -> None:
        managed = sorted(set(kwargs) & set(_MANAGED))
        if managed:
            raise ValueError(
                f'AttnFDDistiller builds {managed} itself from `stages`; '
                'remove them, or use type="ConfigurableDistiller" for a '
                'hand-written setup.')
        if kwargs:
            raise TypeError(
                f'AttnFDDistiller got unexpected arguments {sorted(kwargs)}.')
        if teacher_attention not in TEACHER_ATTENTION_CHOICES:
            raise ValueError(
                f'AttnFDDistiller: teacher_attention must be one of '
                f'{TEACHER_ATTENTION_CHOICES[:3]}, got {teacher_attention!r}.')
        if teacher_attention == 'frozen':
            teacher_attention = 'fitted' if teacher_attention_ckpt \
                else 'random'
        if teacher_attention == 'fitted' and not teacher_attention_ckpt:
            raise ValueError(
                "AttnFDDistiller: teacher_attention='fitted' needs "
                'teacher_attention_ckpt; make one with `python '
                'tools/fit_teacher_attention.py CONFIG` or use '
                "teacher_attention='random'.")
        if teacher_attention_ckpt and teacher_attention != 'fitted':
            raise ValueError(
                'AttnFDDistiller: teacher_attention_ckpt is only used with '
                f"teacher_attention='fitted', not {teacher_attention!r}; "
                'remove the path or switch the mode.')
        if normalize not in NORMALIZE_MODES:
            raise ValueError(
                f'AttnFDDistiller: normalize must be one of '
                f'{NORMALIZE_MODES}, got {normalize!r}.')
        if float(loss_weight) < 0:
            raise ValueError(
                f'AttnFDDistiller: loss_weight must be >= 0, got '
                f'{loss_weight}.')
        if (not isinstance(probe_input_size, (list, tuple))
                or len(probe_input_size) != 2
                or min(probe_input_size) < 8):
            raise ValueError(
                'AttnFDDistiller: probe_input_size must be (H, W) with both '
                f'>= 8, got {probe_input_size!r}.')
        if stages == 'auto':
            self_stages: Union[str, List[Dict]] = 'auto'
        elif isinstance(stages, (list, tuple)) and len(stages) > 0:
            self_stages = [
                _normalize_stage(s, i) for i, s in enumerate(stages)
            ]
        else:
            raise ValueError(
                "AttnFDDistiller: stages must be 'auto' or a non-empty list "
                f"of stages, got {stages!r}.")
        super().__init__(init_cfg=init_cfg)
        # building a throw-away CBAM validates these options at build time
        CBAM(8, reduction=reduction, kernel_size=kernel_size,
             min_hidden=min_hidden)

        self._stage_cfg = self_stages
        self.teacher_attention = teacher_attention
        self.teacher_attention_seed = int(teacher_attention_seed)
        self.teacher_attention_ckpt = teacher_attention_ckpt
        self.normalize = normalize
        self.loss_weight = float(loss_weight)
        self.reduction = reduction
        self.kernel_size = kernel_size
        self.min_hidden = min_hidden
        self.align = bool(align)
        self.align_norm_cfg = align_norm_cfg
        self.spatial_norm = bool(spatial_norm)
        self.probe_input_size = tuple(probe_input_size)
        self._student_ref = None
        self._teacher_ref = None
        #: Resolved stages (after both prepare calls): dicts with
        #: ``label``, ``student``/``teacher`` sides and channel counts.
        self.stages: List[Dict[str, Any]] = []

    # ------------------------------------------------------------------
    @property
    def is_built(self) -> bool:
        """Whether recorders, connectors and losses exist."""
        return bool(self.stages)

    def prepare_from_student(self, model: nn.Module) -> None:
        """Remember the student; build everything once the teacher is in."""
        self._student_ref = weakref.ref(model)
        self._maybe_build()

    def prepare_from_teacher(self, model: nn.Module) -> None:
        """Remember the teacher; build everything once the student is in."""
        self._teacher_ref = weakref.ref(model)
        self._maybe_build()

    def _maybe_build(self) -> None:
        if self.is_built or self._student_ref is None \
                or self._teacher_ref is None:
            return
        student, teacher = self._student_ref(), self._teacher_ref()
        if student is None or teacher is None:
            raise RuntimeError('AttnFDDistiller: the student or teacher was '
                               'garbage-collected before building.')
        self._build(student, teacher)

    def _build(self, student: nn.Module, teacher: nn.Module) -> None:
        if self._stage_cfg == 'auto':
            stages = auto_stages(student, teacher)
        else:
            stages = [dict(s) for s in self._stage_cfg]
        for stage in stages:
            _check_module(student, stage['student']['name'], 'student')
            _check_module(teacher, stage['teacher']['name'], 'teacher')
        s_channels = probe_channels(student, [s['student'] for s in stages],
                                    'student', self.probe_input_size)
        t_channels = probe_channels(teacher, [s['teacher'] for s in stages],
                                    'teacher', self.probe_input_size)

        param = next(student.parameters(), None)
        device = param.device if param is not None else torch.device('cpu')
        s_recorders, t_recorders, mappings = {}, {}, {}
        for i, (stage, c_s, c_t) in enumerate(
                zip(stages, s_channels, t_channels)):
            if not self.align and c_s != c_t:
                raise ValueError(
                    f'AttnFDDistiller: stage {i} ({stage["label"]}) has '
                    f'{c_s} student channels and {c_t} teacher channels; '
                    'enable alignment (align=True) to map them with a 1x1 '
                    'conv + BN, or pick stages with equal channels.')
            stage.update(student_channels=c_s, teacher_channels=c_t)
            rec = f'attnfd_{i}'
            for recorders, side in ((s_recorders, stage['student']),
                                    (t_recorders, stage['teacher'])):
                recorders[rec] = dict(
                    type='ModuleInputs'
                    if side['record'] == 'inputs' else 'ModuleOutputs',
                    source=side['name'])
            s_conn, t_conn = f'attnfd_{i}_student', f'attnfd_{i}_teacher'
            self.connectors[s_conn] = CBAMConnector(
                c_s,
                c_t,
                align=self.align,
                reduction=self.reduction,
                kernel_size=self.kernel_size,
                min_hidden=self.min_hidden,
                norm_cfg=self.align_norm_cfg,
                spatial_norm=self.spatial_norm).to(device)
            self.connectors[t_conn] = TeacherCBAMConnector(
                c_t,
                mode='parameter_free' if self.teacher_attention
                == 'parameter_free' else 'frozen',
                reduction=self.reduction,
                kernel_size=self.kernel_size,
                min_hidden=self.min_hidden,
                seed=self.teacher_attention_seed + i,
                spatial_norm=self.spatial_norm).to(device)
            loss_name = f'loss_attnfd_{i}'
            self.distill_losses[loss_name] = AttnFDLoss(
                normalize=self.normalize, loss_weight=self.loss_weight)
            mappings[loss_name] = dict(
                preds_S=dict(
                    recorder=rec,
                    from_student=True,
                    data_idx=stage['student']['data_idx'],
                    connector=s_conn),
                preds_T=dict(
                    recorder=rec,
                    from_student=False,
                    data_idx=stage['teacher']['data_idx'],
                    connector=t_conn))

        self.student_recorders = RecorderManager(s_recorders)
        self.teacher_recorders = RecorderManager(t_recorders)
        self.student_recorders.initialize(student)
        self.teacher_recorders.initialize(teacher)
        self._check_loss_forward_mappings(self.distill_losses, mappings,
                                          self.student_recorders,
                                          self.teacher_recorders)
        self.loss_forward_mappings = mappings
        self.stages = stages
        self._student_ref = self._teacher_ref = None
        if self.teacher_attention_ckpt:
            self.load_teacher_attention(self.teacher_attention_ckpt, teacher)
        print_log(
            'AttnFD stages: ' + '; '.join(
                f'{i}: {s["student"]["name"]} ({s["student_channels"]}) -> '
                f'{s["teacher"]["name"]} ({s["teacher_channels"]})'
                for i, s in enumerate(stages)) +
            f'; teacher attention={self.teacher_attention}, '
            f'normalize={self.normalize}, loss_weight={self.loss_weight}',
            logger='current')

    # ------------------------------------------------------------------
    @property
    def teacher_connector_names(self) -> List[str]:
        """Names of the teacher-side CBAM connectors, in stage order."""
        return [f'attnfd_{i}_teacher' for i in range(len(self.stages))]

    @property
    def cbam_options(self) -> Dict[str, Any]:
        """CBAM settings a fitted teacher-attention file must share."""
        return dict(
            reduction=self.reduction,
            kernel_size=self.kernel_size,
            min_hidden=self.min_hidden,
            spatial_norm=self.spatial_norm)

    def teacher_attention_state_dict(self) -> 'OrderedDict[str, Any]':
        """Teacher-side CBAM weights, keyed ``attnfd_{i}_teacher.cbam.*``."""
        return teacher_state_dict(self.connectors,
                                  self.teacher_connector_names)

    def load_teacher_attention(self,
                               path: str,
                               teacher: Optional[nn.Module] = None) -> None:
        """Load teacher CBAM weights (see ``teacher_attention_ckpt``).

        Args:
            path: A fitted file, or any checkpoint holding
                ``attnfd_{i}_teacher.cbam.*`` keys (optionally prefixed).
            teacher: The teacher model; needed to check a fitted file's
                teacher digest.

        Raises:
            TeacherAttentionMismatch: A fitted file made for another
                teacher, other stages, channels or CBAM options.
            KeyError: The file has no weights for a teacher connector.
            ValueError: Shapes do not match the teacher's channels.
        """
        from mmseg_attnkd.utils import get_state_dict, load_checkpoint_safely
        ckpt = load_checkpoint_safely(path)
        meta = ckpt.get('meta') if isinstance(ckpt, dict) else None
        if isinstance(meta, dict) and 'kind' in meta:
            if teacher is None:
                raise ValueError('load_teacher_attention needs the teacher '
                                 'to check a fitted file.')
            check_teacher_attention_meta(
                meta, path, teacher, [s['teacher'] for s in self.stages],
                [s['teacher_channels'] for s in self.stages],
                self.cbam_options)
        state = get_state_dict(ckpt)
        for name in self.teacher_connector_names:
            conn = self.connectors[name]
            marker = f'{name}.'
            sub = OrderedDict()
            for key, value in state.items():
                if key.startswith(marker):
                    sub[key[len(marker):]] = value
                elif f'.{marker}' in key:
                    sub[key.split(f'.{marker}', 1)[1]] = value
            expected = [f'{marker}{k}' for k in conn.state_dict()]
            if not sub:
                raise KeyError(
                    f'teacher_attention_ckpt {path!r} has no weights for '
                    f'{name}; expected keys like {expected[:2]} (optionally '
                    f'prefixed), found e.g. {list(state)[:3]}. Make one with '
                    'tools/fit_teacher_attention.py.')
            try:
                conn.load_state_dict(sub, strict=True)
            except RuntimeError as err:
                raise ValueError(
                    f'teacher_attention_ckpt {path!r} does not fit {name} '
                    f'({conn.cbam.channels} channels, reduction '
                    f'{self.reduction}, kernel {self.kernel_size}): '
                    f'{str(err).splitlines()[0]} Use a file saved for the '
                    'same teacher and stages.') from err
        print_log(f'AttnFD: loaded teacher attention from {path}',
                  logger='current')

    def compute_distill_losses(self) -> Dict[str, torch.Tensor]:
        """``{'loss_attnfd_{i}': scalar}`` for every stage."""
        if not self.is_built:
            raise RuntimeError(
                'AttnFDDistiller is not built: call prepare_from_student and '
                'prepare_from_teacher first (SingleTeacherDistill does).')
        return super().compute_distill_losses()
