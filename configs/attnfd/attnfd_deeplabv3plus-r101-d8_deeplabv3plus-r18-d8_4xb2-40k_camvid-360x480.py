# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AttnFD (arXiv 2403.05451):
# DeepLabV3+ R101-d8 -> DeepLabV3+ R18-d8 on CamVid (11 classes).
# The base is the student-alone baseline (same data and schedule).
_base_ = [
    '../baselines/deeplabv3plus_r18-d8_4xb2-40k_camvid-360x480.py',
    '../_base_/models/teacher_deeplabv3plus_r101-d8.py',
]
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)

# Local path of the trained teacher: MMSeg has no CamVid model; train
# ../_base_/models/teacher_deeplabv3plus_r101-d8.py on CamVid first.
teacher_ckpt = None
teacher = _base_.teacher_model
teacher.decode_head.num_classes = 11
teacher.auxiliary_head.num_classes = 11

model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='SegSingleTeacherDistill',
    architecture={{_base_.model}},
    teacher=teacher,
    teacher_ckpt=teacher_ckpt,
    distiller=dict(
        type='AttnFDDistiller',
        stages=[
            ('backbone.layer4', 'backbone.layer4'),  # backbone last stage
            ('decode_head.bottleneck', 'decode_head.bottleneck'),  # ASPP out
            ('decode_head.sep_bottleneck',  # decoder, before classifier
             'decode_head.sep_bottleneck'),
        ],
        # the defaults, chosen on CamVid val (bench/README.md): attention
        # fitted on the trained teacher first, where the fit tool writes it:
        #   python tools/fit_teacher_attention.py <this config>
        # (teacher_attention='parameter_free' with teacher_attention_ckpt=None
        # needs no fitting)
        teacher_attention='fitted',
        teacher_attention_ckpt='work_dirs/fit_teacher_attention/'
        'attnfd_deeplabv3plus-r101-d8_deeplabv3plus-r18-d8_4xb2-40k_camvid-360x480'  # noqa: E501
        '/teacher_attention.pth',
        normalize='tensor',
        loss_weight=8.0))

val_cfg = dict(_delete_=True, type='mmrazor.SingleTeacherDistillValLoop')
