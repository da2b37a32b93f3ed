# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Demo axial self-distillation on the w16 student: an Axial-Attention block
# refines its logits into a teacher output; loss = CE(student) + CE(teacher)
# + MSE(student, teacher).
_base_ = './_base_demo_models.py'
model = dict(
    _scope_='mmrazor',
    type='SegSelfDistill',
    architecture={{_base_.student_model}},
    distiller=dict(type='AxialSelfDistiller', head='decode_head'))
