# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AttnFD (arXiv 2403.05451) in MMRazor's single-teacher algorithm. A config
# inherits this beside its student baseline and its teacher model and fills
# in the student and the teacher (its weights: model.teacher_ckpt):
#   model = dict(_base_.attnfd_model, architecture=_base_.model,
#                teacher=...)
#   val_cfg = _base_.distill_val_cfg
# Every AttnFDDistiller option left out takes the package default, the
# setting chosen on CamVid val (bench/README.md):
# * stages='auto': for DeepLabV3+ the backbone's last stage, the ASPP output
#   and the decoder before the classifier; for PSPNet the backbone's last
#   stage and the PPM output;
# * teacher_attention='fitted': attention fitted on the trained teacher by
#   tools/fit_teacher_attention.py <config>, which writes it where it is read
#   (work_dirs/fit_teacher_attention/<teacher>-<stages>/, keyed by the
#   teacher's weights and the stage set, so every config with that teacher
#   and those stages shares it; teacher_attention_ckpt names another file);
#   'parameter_free' needs no fitting;
# * normalize='tensor', loss_weight=8.0.
# The distiller adds a CWD term on the logits in the same run (AttnFD v2,
# tau 1, weight 5 as configs/_base_/distillers/cwd.py): of the AttnFD
# candidates of the CamVid v2 study it won on val (bench/README.md §7).
# logit_loss=None gives the paper's AttnFD alone.
# The frozen teacher runs in bf16 where the CPU has native bf16 (avx512_bf16
# or AMX) and in fp32 elsewhere, CUDA included (teacher_precision='auto'):
# on the CamVid study a bf16 teacher made the AttnFD step 0.80x [0.70, 0.87]
# as long at -0.33 [-1.67, +1.00] test mIoU over 3 paired seeds
# (bench/results/camvid_v2_cpu.md); pass 'fp32' to keep a full-precision
# teacher everywhere.
attnfd_model = dict(
    _delete_=True,
    _scope_='mmrazor',
    type='SegSingleTeacherDistill',
    teacher_precision='auto',
    distiller=dict(
        type='AttnFDDistiller',
        logit_loss=dict(type='ChannelWiseDivergence', tau=1, loss_weight=5),
        logit_loss_name='loss_cwd'))
# validate the student only (the teacher is fixed)
distill_val_cfg = dict(
    _delete_=True, type='mmrazor.SingleTeacherDistillValLoop')

