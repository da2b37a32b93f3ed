# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The MedSeg COVID-19 CT study of
# ../../baselines/*_1xb4-20k_medseg-covid-384x384.py (and of the
# ../../axial_sd/ configs built on them): the data, MMSeg's 20k schedule and
# what every student there sets (the R-50 ones also `pretrained`).
_base_ = [
    '../datasets/medseg_covid.py', '../schedules/schedule_20k.py'
]
# Path of local ImageNet ResNet-50-V1c weights (MMSeg's
# open-mmlab://resnet50_v1c); None trains from scratch.
pretrained = None
num_classes = 4
# The student's model settings: the crop as the batch shape, the weights
# above, the classes in both heads, the sliding-window test at the crop. A
# baseline takes them out of its bases, so that `student` is no key of its
# own config:
#   model = _base_.pop('student')
student = dict(
    data_preprocessor=dict(size=_base_.crop_size),
    pretrained=pretrained,
    decode_head=dict(num_classes=num_classes),
    auxiliary_head=dict(num_classes=num_classes),
    test_cfg=_base_.slide_test_cfg)
