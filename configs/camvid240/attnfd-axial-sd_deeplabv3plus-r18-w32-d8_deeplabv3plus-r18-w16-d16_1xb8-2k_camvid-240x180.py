# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# AttnFD (package defaults) and axial self-distillation (stride 2) at once.
_base_ = './attnfd_deeplabv3plus-r18-w32-d8_deeplabv3plus-r18-w16-d16_1xb8-2k_camvid-240x180.py'  # noqa: E501
model = dict(distiller=dict(type='AttnFDAxialDistiller',
                            axial=dict(stride=2)))
# score the student and the axial teacher output
val_cfg = dict(_delete_=True, type='mmrazor.SegSelfDistillValLoop')
test_cfg = dict(_delete_=True, type='mmrazor.SegSelfDistillTestLoop')
