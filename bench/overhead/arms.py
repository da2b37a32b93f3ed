# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Scales and arms of the training-overhead benchmark
(``bench/overhead/run.py``).

Two scales, each a student/teacher pair on 11 CamVid classes at 180x240:

* ``demo``: the models of the CPU accuracy protocol
  (``camvid_arms.PROTOCOLS['cpu']``): DeepLabV3+ with a ResNetV1c-18 layout,
  student width 16 at output stride 16, teacher width 32 at output stride
  8, batch 8;
* ``r18``: DeepLabV3+ R18-d8 student, R50-d8 teacher, batch 2
  (``common.r18_scale_models``: the files of ``configs/_base_/models/``).

Arms: ``student`` alone; ``floor`` (``SegSingleTeacherDistill`` with an
empty distiller: student step + teacher forward under ``no_grad``);
``attnfd``, ``kd``, ``cwd`` on that floor; ``axial_sd`` (``SegSelfDistill``
+ ``AxialSelfDistiller``, package defaults) and ``axial_sd_s2`` (the same
with ``axial=dict(stride=2)``); ``teacher`` alone (sizing only). Each
method is the file of its ``configs/camvid240/`` arm on the scale's pair
(:data:`METHODS`).

Run as a script, this module is the fresh process that measures one arm's
peak memory (see ``bench/overhead/run.py``).
"""
import argparse
import copy
import os.path as osp
import sys
import time
from typing import Dict, NamedTuple, Optional, Sequence, Tuple

if __package__ in (None, ''):
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from bench.accuracy import arms as camvid_arms  # noqa: E402
from bench.lib import common  # noqa: E402

NUM_CLASSES = camvid_arms.NUM_CLASSES

#: Every arm, compared pairs next to each other (round-robin order).
ALL_ARMS = ('student', 'axial_sd', 'axial_sd_s2', 'floor', 'attnfd', 'kd',
            'cwd', 'teacher')

#: Defaults of each scale.
SCALES = dict(
    demo=dict(
        size=tuple(camvid_arms.PROTOCOLS['cpu']['crop']),
        batch=camvid_arms.PROTOCOLS['cpu']['batch'],
        arms=('student', 'axial_sd', 'axial_sd_s2', 'floor', 'attnfd', 'kd',
              'cwd')),
    r18=dict(size=(180, 240), batch=2,
             arms=('student', 'axial_sd', 'floor', 'attnfd', 'kd', 'cwd')),
)


class Setting(NamedTuple):
    """Where an arm runs: scale name, input size, batch, teacher depth."""
    scale: str
    size: Tuple[int, int]
    batch: int
    teacher_depth: int = 50


def scale_title(s: Setting) -> str:
    """One line naming the models of a scale."""
    if s.scale == 'demo':
        p = camvid_arms.PROTOCOLS['cpu']
        st, te = p['student'], p['teacher']
        return (f'demo scale: DeepLabV3+ ResNetV1c-18 layout, student width '
                f'{st["width"]} (output stride {st["output_stride"]}), '
                f'teacher width {te["width"]} (output stride '
                f'{te["output_stride"]})')
    return (f'R18-d8 scale: DeepLabV3+ R18-d8 student, '
            f'R{s.teacher_depth}-d8 teacher')


def models(s: Setting) -> Tuple[dict, dict]:
    """Student and teacher model dicts of a setting."""
    if s.scale == 'demo':
        proto = dict(camvid_arms.PROTOCOLS['cpu'], crop=tuple(s.size))
        return camvid_arms.student_cfg(proto), camvid_arms.teacher_cfg(proto)
    if s.scale == 'r18':
        return common.r18_scale_models(NUM_CLASSES, s.size, s.teacher_depth)
    raise ValueError(f'unknown scale {s.scale!r}; choose from {tuple(SCALES)}')


#: Distillation arm -> the ``configs/camvid240/`` arm whose file it runs on
#: the setting's student and teacher (no teacher checkpoint; None: the
#: method-free pair) and the distiller options it changes there (None:
#: removed).
METHODS = dict(
    # the package defaults: the axial block at stride 1
    axial_sd=('sd', dict(axial=None)),
    # the CPU accuracy protocol's axial SD (stride 2)
    axial_sd_s2=('sd', {}),
    # student step + teacher forward under no_grad, no loss
    floor=(None, dict(type='ConfigurableDistiller')),
    # a seeded random teacher attention in place of the fitted file: the
    # same compute, without a fitted file
    attnfd=('attnfd', dict(teacher_attention='random')),
    kd=('kd', {}),
    cwd=('cwd', {}))


def method_model(arm: str, student: dict,
                 teacher: Optional[dict] = None) -> dict:
    """The model of a :data:`METHODS` arm on ``student`` (and ``teacher``
    for a distillation from a teacher)."""
    config, options = METHODS[arm]
    model = camvid_arms.config_model(config)
    model['architecture'] = copy.deepcopy(student)
    if 'teacher' in model:
        model.update(teacher=copy.deepcopy(teacher), teacher_ckpt=None)
    for key, value in options.items():
        if value is None:
            model['distiller'].pop(key)
        else:
            model['distiller'][key] = value
    return model


def axial_sd_model(student: dict, axial: Optional[dict] = None) -> dict:
    """``SegSelfDistill`` + ``AxialSelfDistiller`` (defaults + ``axial``)."""
    model = method_model('axial_sd', student)
    if axial:
        model['distiller']['axial'] = dict(axial)
    return model


def arm_model_cfg(arm: str, s: Setting) -> dict:
    """Model dict of ``arm`` in setting ``s``."""
    student, teacher = models(s)
    if arm == 'student':
        return student
    if arm == 'teacher':
        return teacher
    if arm not in METHODS:
        raise ValueError(f'unknown arm {arm!r}; choose from {ALL_ARMS}')
    return method_model(arm, student, teacher)


class Arm:
    """One model with its SGD optimizer; ``step()`` is one iteration."""

    def __init__(self, name: str, s: Setting, batch: Optional[dict] = None):
        import torch
        self.name = name
        self.model = common.build_model(arm_model_cfg(name, s), seed=0)
        self.model.train()
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.num_trainable = sum(p.numel() for p in params)
        self.optim = torch.optim.SGD(params, lr=0.01, momentum=0.9,
                                     weight_decay=5e-4)
        self.batch = batch if batch is not None else common.synthetic_batch(
            self.model, s.batch, tuple(s.size), NUM_CLASSES)

    def step(self) -> float:
        """One training iteration (forward, backward, SGD); its seconds."""
        start = time.perf_counter()
        losses = self.model(**self.batch, mode='loss')
        loss, _ = self.model.parse_losses(losses)
        loss.backward()
        self.optim.step()
        self.optim.zero_grad(set_to_none=True)
        return time.perf_counter() - start


def build_arms(arms: Sequence[str], s: Setting) -> Dict[str, Arm]:
    """Build every arm; all share the first arm's preprocessed batch."""
    built, batch = {}, None
    for arm in arms:
        print(f'[{s.scale}] building {arm}', flush=True)
        built[arm] = Arm(arm, s, batch)
        batch = built[arm].batch
    return built


def measure_memory(arm: str, s: Setting, iters: int) -> dict:
    """Peak RSS of ``iters`` steps; run inside a fresh process."""
    arm_obj = Arm(arm, s)
    before = common.current_rss_bytes()
    for _ in range(iters):
        arm_obj.step()
    peak = common.peak_rss_bytes()
    return dict(arm=arm, rss_before=before, peak_rss=peak,
                step_peak=peak - before)


def memory_in_subprocess(arm: str, s: Setting, iters: int,
                         threads: int) -> dict:
    """:func:`measure_memory` in a fresh process (see ``common.rss_env``)."""
    argv = [
        osp.abspath(__file__), arm, s.scale, '--size', str(s.size[0]),
        str(s.size[1]), '--batch', str(s.batch), '--teacher-depth',
        str(s.teacher_depth), '--iters', str(iters), '--threads',
        str(threads)
    ]
    return common.run_json_subprocess(argv)


def _worker(argv=None) -> None:
    import json

    import torch
    parser = argparse.ArgumentParser(description='peak memory of one arm')
    parser.add_argument('arm', choices=ALL_ARMS)
    parser.add_argument('scale', choices=tuple(SCALES))
    parser.add_argument('--size', nargs=2, type=int, required=True)
    parser.add_argument('--batch', type=int, required=True)
    parser.add_argument('--teacher-depth', type=int, default=50)
    parser.add_argument('--iters', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1)
    a = parser.parse_args(argv)
    torch.set_num_threads(a.threads)
    s = Setting(a.scale, tuple(a.size), a.batch, a.teacher_depth)
    print(json.dumps(measure_memory(a.arm, s, a.iters)))


if __name__ == '__main__':
    _worker()
