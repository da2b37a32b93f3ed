# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# Demo STUDENT baseline: the teacher's architecture at half its width (16 base
# channels, about a quarter of its parameters), same data and schedule.
_base_ = './_base_demo_models.py'
model = {{_base_.student_model}}
