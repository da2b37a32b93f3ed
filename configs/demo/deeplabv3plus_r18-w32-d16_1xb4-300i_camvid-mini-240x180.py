# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Demo TEACHER: DeepLabV3+, ResNetV1c-18 layout with 32 base channels (half
# the standard width), trained from scratch on the bundled CamVid sample.
_base_ = './_base_demo_models.py'
model = {{_base_.teacher_model}}
