# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The axial SD run's *teacher output* as a plain MMSeg model: the student
# with its decode head wrapped by AxialRefineHead (the trained axial block,
# stride 2, on the head's logits). Weights come from the axial-sd config's
# checkpoint through
#   tools/model_converters/convert_axial_ckpt_to_refine_head.py
# and predict exactly the teacher output that run's test loop scores.
_base_ = './deeplabv3plus_r18-w16-d16_1xb8-2k_camvid-240x180.py'
model = dict(decode_head=dict(
    _delete_=True, type='AxialRefineHead',
    base_head=_base_.student_model.decode_head,
    axial=dict(in_channels=11, stride=2)))
