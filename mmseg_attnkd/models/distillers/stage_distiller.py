# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""A distiller that pairs student/teacher stages with registry components.

One stage list, one student-connector config, one teacher-connector config
and one loss config describe a whole feature (or logit) distillation; the
recorders, connectors, losses and ``loss_forward_mappings`` of MMRazor's
``ConfigurableDistiller`` are built from them once both models are known.
AttnFD (``AttnFDDistiller``) is a preset of it, and so is every method in
``configs/feature_kd/``.
"""
import copy
import weakref
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmrazor.models.task_modules import RecorderManager
from mmrazor.registry import MODELS

from .module_names import missing_module_hint
from .seg_configurable_distiller import SegConfigurableDistiller
from .shape_probe import probe_shapes
from .stage_components import (default_loss_name, loss_input_names,
                               with_channels)
from .stage_specs import StageSpec, auto_stages, parse_stages

__all__ = ['StageDistiller']

_MANAGED = ('student_recorders', 'teacher_recorders', 'distill_deliveries',
            'connectors', 'distill_losses', 'loss_forward_mappings')
_KINDS = ('student_connector', 'teacher_connector', 'loss')
ComponentCfg = Optional[Union[Dict, Sequence[Dict]]]


@MODELS.register_module()
class StageDistiller(SegConfigurableDistiller):
    """Distil a student from a teacher at a list of stage pairs.

    For every stage ``i`` the student record goes through the student
    connector (if any), the teacher record through the teacher connector (if
    any), and the loss compares them: ``loss(student, teacher)`` with the
    records passed as the loss's first two ``forward`` arguments, whatever
    their names. Each component is built with MMRazor's ``MODELS.build``;
    connector channel arguments (``in_channels``, ``in_channel``,
    ``student_channels``, ``out_channels``, ``teacher_channels``,
    ``channels``, ...) that the config leaves out are filled with the
    channels found by one eval-mode probe forward of each model. Names:
    recorders ``{key}_{i}``, connectors ``{key}_{i}_student`` and
    ``{key}_{i}_teacher``, losses ``{loss_name}_{i}`` (logged as
    ``distill.{loss_name}_{i}``), where ``key`` is ``loss_name`` without
    its ``loss_`` prefix.

    Records reach the losses contiguous and in fp32
    (:class:`SegConfigurableDistiller`, :class:`ContiguousRecordsMixin`:
    SegFormer's channels-last logits would break MMRazor's ``.view``-based
    losses such as CWD).

    Everything is built when both models are known (``prepare_from_student``
    and ``prepare_from_teacher``, both called by ``SingleTeacherDistill``
    before the optimizer exists).

    Args:
        stages: ``'auto'`` (see :func:`auto_stages`) or a list of module
            names, ``(student, teacher)`` pairs or
            ``dict(student=..., teacher=..., record='outputs'|'inputs',
            data_idx=None)`` (see :func:`parse_stages`).
        loss: Loss config, or one per stage.
        student_connector: Student connector config, one per stage, or None.
        teacher_connector: Teacher connector config, one per stage, or None.
            A connector with a ``prepare_from_source(module)`` method gets
            the recorded teacher (or student) module once at build time.
        loss_name: Loss name prefix. Defaults to ``'loss_<type>'``
            (``'loss_at'`` for ``ATLoss``).
        probe_input_size: ``(H, W)`` of the probe input. Defaults to
            ``(64, 64)``.
        logit_loss: An extra logit term in the same run, e.g.
            ``dict(type='ChannelWiseDivergence', tau=1, loss_weight=5)``: the
            loss on the outputs of ``logit_source`` of both models (no
            connector), named ``logit_loss_name``. Defaults to None.
        logit_source: Module whose outputs are the logits. Defaults to
            ``'decode_head.conv_seg'``.
        logit_loss_name: Name of the logit term. Defaults to
            ``'loss_<type>'``.
        init_cfg: MMEngine init config. Defaults to None.

    Example:
        >>> distiller = dict(
        ...     type='StageDistiller', stages=['backbone.layer4'],
        ...     student_connector=dict(type='ConvModuleConnector',
        ...                            norm_cfg=dict(type='BN'), act_cfg=None),
        ...     loss=dict(type='PKDLoss', loss_weight=6))
    """

    #: Method name used in log lines and error messages.
    method = 'Stage distillation'

    def __init__(self,
                 stages: Union[str, List[StageSpec]] = 'auto',
                 loss: ComponentCfg = None,
                 student_connector: ComponentCfg = None,
                 teacher_connector: ComponentCfg = None,
                 loss_name: Optional[str] = None,
                 probe_input_size: Tuple[int, int] = (64, 64),
                 logit_loss: Optional[Dict] = None,
                 logit_source: str = 'decode_head.conv_seg',
                 logit_loss_name: Optional[str] = None,
                 init_cfg: Optional[Dict] = None,
                 **kwargs) -> None:
        owner = type(self).__name__
        managed = sorted(set(kwargs) & set(_MANAGED))
        if managed:
            raise ValueError(
                f'{owner} builds {managed} itself from `stages`; '
                'remove them, or use type="ConfigurableDistiller" for a '
                'hand-written setup.')
        if kwargs:
            raise TypeError(f'{owner} got unexpected arguments '
                            f'{sorted(kwargs)}.')
        if not loss:
            raise ValueError(f'{owner} needs a loss config, e.g. '
                             "loss=dict(type='PKDLoss').")
        if (not isinstance(probe_input_size, (list, tuple))
                or len(probe_input_size) != 2
                or min(probe_input_size) < 8):
            raise ValueError(
                f'{owner}: probe_input_size must be (H, W) with both '
                f'>= 8, got {probe_input_size!r}.')
        parsed = parse_stages(stages, owner)
        super().__init__(init_cfg=init_cfg)
        self._stage_cfg = parsed
        self._component_cfgs = dict(
            student_connector=copy.deepcopy(student_connector),
            teacher_connector=copy.deepcopy(teacher_connector),
            loss=copy.deepcopy(loss))
        first_loss = loss[0] if isinstance(loss, (list, tuple)) else loss
        self.loss_name = loss_name or default_loss_name(first_loss)
        self.probe_input_size = tuple(probe_input_size)
        self.logit_loss_cfg = copy.deepcopy(logit_loss)
        self.logit_source = logit_source
        self.logit_loss_name = None if not logit_loss else (
            logit_loss_name or default_loss_name(logit_loss))
        if self.logit_loss_name and \
                self.logit_loss_name.startswith(f'{self.loss_name}_'):
            raise ValueError(
                f'{owner}: logit_loss_name {self.logit_loss_name!r} clashes '
                f'with the stage losses {self.loss_name}_<i>; name it '
                "otherwise, e.g. logit_loss_name='loss_cwd'.")
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

    @property
    def stage_key(self) -> str:
        """``loss_name`` without ``loss_``: prefix of recorders/connectors."""
        name = self.loss_name
        return name[len('loss_'):] if name.startswith('loss_') else name

    @property
    def teacher_connector_names(self) -> List[str]:
        """Names of the teacher-side connectors, in stage order."""
        names = [f'{self.stage_key}_{i}_teacher'
                 for i in range(len(self.stages))]
        return [n for n in names if n in self.connectors]

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
            raise RuntimeError(f'{type(self).__name__}: the student or '
                               'teacher was garbage-collected before '
                               'building.')
        self._build(student, teacher)

    # --------------------------------------------------------- hooks
    def stage_component_cfg(self, kind: str, index: int) -> Optional[Dict]:
        """Config of ``kind`` (``'student_connector'``,
        ``'teacher_connector'`` or ``'loss'``) for stage ``index``."""
        cfg = self._component_cfgs[kind]
        if isinstance(cfg, (list, tuple)):
            cfg = cfg[index]
        return copy.deepcopy(dict(cfg)) if cfg else None

    def check_stage(self, index: int, stage: Dict[str, Any]) -> None:
        """Refuse a resolved stage (channels and sizes known).

        Without a connector on either side the loss gets the records as
        they are; when their ``H x W`` differ, the loss is tried once on
        zero maps of the probed shapes, and a loss that cannot take them
        (MMRazor's CWD asserts equal sizes, e.g. between output stride 4
        and 8 logits) is refused here in one line.
        """
        if self.stage_component_cfg('student_connector', index) or \
                self.stage_component_cfg('teacher_connector', index):
            return
        s_size, t_size = stage['student_size'], stage['teacher_size']
        if s_size == t_size:
            return
        loss = MODELS.build(self.stage_component_cfg('loss', index))
        try:
            with torch.no_grad():
                loss(torch.zeros(1, stage['student_channels'], *s_size),
                     torch.zeros(1, stage['teacher_channels'], *t_size))
        except Exception as err:  # noqa: BLE001 - any failure is refused
            raise ValueError(
                f'{type(self).__name__}: stage {index} '
                f'({stage["student"]["name"]} -> '
                f'{stage["teacher"]["name"]}) gives a {s_size[0]}x'
                f'{s_size[1]} student map and a {t_size[0]}x{t_size[1]} '
                f'teacher map for a {self.probe_input_size[0]}x'
                f'{self.probe_input_size[1]} input, which '
                f'{type(loss).__name__} cannot compare '
                f'({type(err).__name__}); pick stages at the same output '
                'stride or set student_connector to resize.') from None

    def log_suffix(self) -> str:
        """Extra text of the build log line."""
        return ''

    # --------------------------------------------------------- build
    def _resolve_stages(self, student: nn.Module,
                        teacher: nn.Module) -> List[Dict[str, Any]]:
        owner = type(self).__name__
        if self._stage_cfg == 'auto':
            stages = auto_stages(student, teacher, owner)
        else:
            stages = [copy.deepcopy(s) for s in self._stage_cfg]
        for kind in _KINDS:
            cfg = self._component_cfgs[kind]
            if isinstance(cfg, (list, tuple)) and len(cfg) != len(stages):
                raise ValueError(
                    f'{owner}: {kind} lists {len(cfg)} configs for '
                    f'{len(stages)} stages; give one config or one per '
                    'stage.')
        for stage in stages:
            for who, model in (('student', student), ('teacher', teacher)):
                hint = missing_module_hint(model, stage[who]['name'])
                if hint:
                    raise ValueError(
                        f'{owner}: the {who} has no module named '
                        f'{stage[who]["name"]!r}. {hint} Fix the stage list '
                        '(names as in model.named_modules()).')
        for who, model in (('student', student), ('teacher', teacher)):
            shapes = probe_shapes(model, [s[who] for s in stages], who,
                                  self.probe_input_size, owner, self.method)
            for stage, (c, h, w) in zip(stages, shapes):
                stage[f'{who}_channels'] = c
                stage[f'{who}_size'] = (h, w)
        return stages

    def _build_connector(self, kind: str, index: int, stage: Dict,
                         device: torch.device) -> Optional[str]:
        cfg = self.stage_component_cfg(f'{kind}_connector', index)
        if cfg is None:
            return None
        c_s, c_t = stage['student_channels'], stage['teacher_channels']
        cfg = with_channels(cfg, c_s if kind == 'student' else c_t, c_s, c_t)
        name = f'{self.stage_key}_{index}_{kind}'
        self.connectors[name] = MODELS.build(cfg).to(device)
        return name

    def _build(self, student: nn.Module, teacher: nn.Module) -> None:
        stages = self._resolve_stages(student, teacher)
        param = next(student.parameters(), None)
        device = param.device if param is not None else torch.device('cpu')
        s_recorders, t_recorders, mappings = {}, {}, {}
        for i, stage in enumerate(stages):
            self.check_stage(i, stage)
            rec = f'{self.stage_key}_{i}'
            for recorders, side in ((s_recorders, stage['student']),
                                    (t_recorders, stage['teacher'])):
                recorders[rec] = dict(
                    type='ModuleInputs'
                    if side['record'] == 'inputs' else 'ModuleOutputs',
                    source=side['name'])
            connectors = [self._build_connector(who, i, stage, device)
                          for who in ('student', 'teacher')]
            loss_name = f'{self.loss_name}_{i}'
            loss = MODELS.build(self.stage_component_cfg('loss', i))
            self.distill_losses[loss_name] = loss
            mappings[loss_name] = {}
            for arg, who, conn in zip(loss_input_names(loss),
                                      ('student', 'teacher'), connectors):
                mapping = dict(recorder=rec, from_student=who == 'student',
                               data_idx=stage[who]['data_idx'])
                if conn is not None:
                    mapping['connector'] = conn
                mappings[loss_name][arg] = mapping
        if self.logit_loss_cfg:
            self._add_logit_term(student, teacher, s_recorders, t_recorders,
                                 mappings)
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
        self._prepare_connectors(student, teacher)
        self.after_build(student, teacher)
        print_log(
            f'{self.method} stages: ' + '; '.join(
                f'{i}: {s["student"]["name"]} ({s["student_channels"]}) -> '
                f'{s["teacher"]["name"]} ({s["teacher_channels"]})'
                for i, s in enumerate(stages)) + self.log_suffix(),
            logger='current')

    def _add_logit_term(self, student: nn.Module, teacher: nn.Module,
                        s_recorders: Dict, t_recorders: Dict,
                        mappings: Dict) -> None:
        """Record ``logit_source`` on both sides and map it to the logit
        loss (``logit_loss``), without connectors."""
        for model, who in ((student, 'student'), (teacher, 'teacher')):
            hint = missing_module_hint(model, self.logit_source)
            if hint is not None:
                raise ValueError(
                    f'{type(self).__name__}: the {who} has no module '
                    f'"{self.logit_source}" for logit_loss. {hint} Set '
                    'logit_source to the module whose outputs are logits.')
        rec = 'logits'
        s_recorders[rec] = t_recorders[rec] = dict(
            type='ModuleOutputs', source=self.logit_source)
        loss = MODELS.build(copy.deepcopy(self.logit_loss_cfg))
        self.distill_losses[self.logit_loss_name] = loss
        mappings[self.logit_loss_name] = {
            arg: dict(recorder=rec, from_student=who == 'student')
            for arg, who in zip(loss_input_names(loss),
                                ('student', 'teacher'))}

    def _prepare_connectors(self, student: nn.Module,
                            teacher: nn.Module) -> None:
        """Give connectors that ask for it their recorded module."""
        for i, stage in enumerate(self.stages):
            for who, model in (('student', student), ('teacher', teacher)):
                name = f'{self.stage_key}_{i}_{who}'
                conn = self.connectors[name] if name in self.connectors \
                    else None
                if hasattr(conn, 'prepare_from_source'):
                    conn.prepare_from_source(
                        model.get_submodule(stage[who]['name']))

    def after_build(self, student: nn.Module, teacher: nn.Module) -> None:
        """Called once everything is built; nothing by default."""

    def compute_distill_losses(self) -> Dict[str, torch.Tensor]:
        """``{'{loss_name}_{i}': scalar}`` for every stage.

        Losses get contiguous fp32 records with autocast off
        (:class:`SegConfigurableDistiller`).
        """
        if not self.is_built:
            raise RuntimeError(
                f'{type(self).__name__} is not built: call '
                'prepare_from_student and prepare_from_teacher first '
                '(SingleTeacherDistill does).')
        return super().compute_distill_losses()
