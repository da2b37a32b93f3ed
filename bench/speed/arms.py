# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Arms of the step-speed study: shipped config files plus option grids.

No model is defined here. Each scale names the config files of its
student, AttnFD and axial-SD models; an arm is one of them with
``--cfg-options``-style overrides (dotted keys), optionally with its
distiller taken from another shipped config (CWD), in channels-last memory
format, or with ``torch.compile`` on its train step (MMEngine's ``compile``
setting compiles ``train_step`` the same way).
"""
from typing import Dict, NamedTuple, Optional, Tuple

__all__ = ['Arm', 'SCALES', 'ARMS', 'PAIRS']

_DEMO = 'configs/demo/'
_CWD = ('configs/feature_kd/cwd_deeplabv3plus-r101-d8_deeplabv3plus-r18-d8_'
        '4xb2-40k_camvid-360x480.py')


class Arm(NamedTuple):
    """One timed arm: a model of the scale plus overrides."""
    model: str  # 'student', 'attnfd' or 'axial_sd' of the scale
    options: Tuple[Tuple[str, object], ...] = ()
    distiller_from: Optional[str] = None  # config whose distiller replaces
    channels_last: bool = False
    compile: bool = False
    teacher_forward: bool = False  # time the frozen teacher's forward only


_BF16 = (('model.teacher_precision', 'bf16'), )
#: A random teacher CBAM costs what a fitted one costs; the R18 scale has
#: no trained teacher or fitted file (timing needs neither). Its AttnFD
#: config's teacher precision is 'auto' (bf16 on this kind of CPU): the
#: arms without the bf16 option time the fp32 teacher they are compared to;
#: and they time AttnFD alone, as measured, without the config's CWD term.
_NO_FILES = (('model.distiller.teacher_attention', 'random'),
             ('model.distiller.teacher_attention_ckpt', None),
             ('model.teacher_ckpt', None),
             ('model.teacher_precision', 'fp32'),
             ('model.distiller.logit_loss', None),
             ('model.distiller.logit_loss_name', None))

#: Config files of each scale; the crop every model's preprocessor pads to
#: (the images are the demo's CamVid 240x180 frames) and the batch.
SCALES: Dict[str, dict] = dict(
    demo=dict(
        student=_DEMO + 'deeplabv3plus_r18-w16-d16_1xb4-300i_camvid-mini-'
        '240x180.py',
        attnfd=_DEMO + 'attnfd_deeplabv3plus-r18-w32-d8_deeplabv3plus-r18-'
        'w16-d16_1xb4-300i_camvid-mini-240x180.py',
        axial_sd=_DEMO + 'axial-sd_deeplabv3plus-r18-w16-d16_1xb4-300i_'
        'camvid-mini-240x180.py',
        crop=(180, 240), batch=8),
    r18=dict(
        student='configs/baselines/deeplabv3plus_r18-d8_4xb2-40k_camvid-'
        '360x480.py',
        attnfd='configs/attnfd/attnfd_deeplabv3plus-r101-d8_deeplabv3plus-'
        'r18-d8_4xb2-40k_camvid-360x480.py',
        # the axial-SD wrapper of the R18 student (architecture replaced)
        axial_sd='configs/axial_sd/axial-sd_deeplabv3plus_r50-d8_1xb2-20k_'
        'camvid-360x480.py',
        crop=(180, 240), batch=2, attnfd_options=_NO_FILES),
)

ARMS: Dict[str, Arm] = dict(
    student=Arm('student'),
    student_cl=Arm('student', channels_last=True),
    student_compile=Arm('student', compile=True),
    teacher=Arm('attnfd', teacher_forward=True),
    teacher_bf16=Arm('attnfd', _BF16, teacher_forward=True),
    attnfd=Arm('attnfd'),
    attnfd_bf16=Arm('attnfd', _BF16),
    attnfd_cl=Arm('attnfd', channels_last=True),
    attnfd_bf16_cl=Arm('attnfd', _BF16, channels_last=True),
    attnfd_compile=Arm('attnfd', compile=True),
    cwd=Arm('attnfd', distiller_from=_CWD),
    cwd_bf16=Arm('attnfd', _BF16, distiller_from=_CWD),
    axial_sd=Arm('axial_sd'),
    axial_sd_cl=Arm('axial_sd', channels_last=True),
    axial_sd_compile=Arm('axial_sd', compile=True),
)

#: Ratios reported: label, numerator arm, denominator arm (today's).
PAIRS = (
    ('teacher forward, bf16 / fp32', 'teacher_bf16', 'teacher'),
    ('AttnFD step, bf16 teacher / fp32', 'attnfd_bf16', 'attnfd'),
    ('CWD step, bf16 teacher / fp32', 'cwd_bf16', 'cwd'),
    ('student step, channels-last / default', 'student_cl', 'student'),
    ('AttnFD step, channels-last / default', 'attnfd_cl', 'attnfd'),
    ('AttnFD step, bf16 teacher + channels-last / today', 'attnfd_bf16_cl',
     'attnfd'),
    ('axial SD step, channels-last / default', 'axial_sd_cl', 'axial_sd'),
    ('student step, compiled / eager', 'student_compile', 'student'),
    ('AttnFD step, compiled / eager', 'attnfd_compile', 'attnfd'),
    ('axial SD step, compiled / eager', 'axial_sd_compile', 'axial_sd'),
)
