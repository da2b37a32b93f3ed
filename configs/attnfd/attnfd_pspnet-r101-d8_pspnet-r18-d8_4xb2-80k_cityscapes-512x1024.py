# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AttnFD (arXiv 2403.05451):
# PSPNet R101-d8 -> PSPNet R18-d8 on Cityscapes
# (the pair of MMRazor's CWD config).
# The base is the student-alone baseline (same data and schedule).
_base_ = [
    '../baselines/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py',
    '../_base_/models/teacher_pspnet_r101-d8.py',
]
custom_imports = dict(imports=['mmseg_attnkd'], allow_failed_imports=False)

# Local path of the trained teacher: MMSeg model-zoo checkpoint
# pspnet_r101-d8_512x1024_80k_cityscapes_20200606_112211-e1e1100f.pth
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
            ('decode_head.bottleneck', 'decode_head.bottleneck'),  # PPM out
        ],
        # the defaults, chosen on CamVid val (bench/README.md): attention
        # fitted on the trained teacher first, where the fit tool writes it:
        #   python tools/fit_teacher_attention.py <this config>
        # (teacher_attention='parameter_free' with teacher_attention_ckpt=None
        # needs no fitting)
        teacher_attention='fitted',
        teacher_attention_ckpt='work_dirs/fit_teacher_attention/'
        'attnfd_pspnet-r101-d8_pspnet-r18-d8_4xb2-80k_cityscapes-512x1024'
        '/teacher_attention.pth',
        normalize='tensor',
        loss_weight=8.0))

val_cfg = dict(_delete_=True, type='mmrazor.SingleTeacherDistillValLoop')
