# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AttnFD (arXiv 2403.05451):
# DeepLabV3+ R101-d8 -> DeepLabV3+ R18-d8 on Cityscapes.
# The base is the student-alone baseline (same data and schedule).
_base_ = [
    '../baselines/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    '../_base_/models/teacher_deeplabv3plus_r101-d8.py',
]
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)

# Local path of the trained teacher: MMSeg model-zoo checkpoint
# deeplabv3plus_r101-d8_512x1024_80k_cityscapes_20200606_114143-068fcfe9.pth
teacher_ckpt = None
teacher = _base_.teacher_model
teacher.decode_head.num_classes = 19
teacher.auxiliary_head.num_classes = 19

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
        # 'fitted' (tools/fit_teacher_attention.py) or 'parameter_free'
        teacher_attention='random',
        normalize='channel',  # 'tensor' = public code
        loss_weight=2.0))

val_cfg = dict(_delete_=True, type='mmrazor.SingleTeacherDistillValLoop')
