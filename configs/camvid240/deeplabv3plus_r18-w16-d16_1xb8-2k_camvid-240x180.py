# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The protocol's plain student (`baseline`): width 16, output stride 16.
_base_ = './_base_camvid240.py'
model = _base_.student_model
