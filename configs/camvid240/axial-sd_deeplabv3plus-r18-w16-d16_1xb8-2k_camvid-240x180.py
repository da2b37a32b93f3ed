# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Axial self-distillation of the protocol's student, the axial block on the
# 2x average-pooled logits (stride 2; at stride 1 an SD step costs several
# student steps on 2 CPU cores). The val and test loops score the student
# and the axial teacher output.
_base_ = './_base_camvid240.py'
model = dict(_scope_='mmrazor', type='SegSelfDistill',
             architecture=_base_.student_model,
             distiller=dict(type='AxialSelfDistiller', axial=dict(stride=2)))
val_cfg = dict(_delete_=True, type='mmrazor.SegSelfDistillValLoop')
test_cfg = dict(_delete_=True, type='mmrazor.SegSelfDistillTestLoop')
