# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The two demo architectures (teacher_model: width 32, output stride 8, the
# CamVid protocol's teacher, weights in demo/checkpoints/; student_model:
# width 16, output stride 16) with the demo runtime.
_base_ = ['./_base_demo_runtime.py',
          '../_base_/models/deeplabv3plus_r18-width_camvid240.py']
