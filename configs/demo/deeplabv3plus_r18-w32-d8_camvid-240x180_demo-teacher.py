# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Demo TEACHER: DeepLabV3+, ResNetV1c-18 layout with 32 base channels, output
# stride 8. `make demo` does not train it: its weights are the committed
# demo/checkpoints/camvid240_deeplabv3plus-r18-w32-d8_teacher.pth, trained on
# the full CamVid train split by the CamVid CPU protocol (bench/accuracy/run.py,
# see demo/checkpoints/README.md). This config evaluates it on the sample.
_base_ = './_base_demo_models.py'
model = {{_base_.teacher_model}}
load_from = 'demo/checkpoints/camvid240_deeplabv3plus-r18-w32-d8_teacher.pth'
