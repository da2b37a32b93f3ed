# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# MGD, masked generative distillation (Yang et al., ECCV 2022): MMRazor's
# MGDConnector and MGDLoss through StageDistiller, DeepLabV3+ R101-d8 ->
# R18-d8 on CamVid (teacher, student, data and schedule of the AttnFD
# CamVid config).
_base_ = '../attnfd/attnfd_deeplabv3plus-r101-d8_deeplabv3plus-r18-d8_4xb2-40k_camvid-360x480.py'  # noqa: E501

model = dict(
    distiller=dict(
        _delete_=True,
        type='StageDistiller',
        stages=['backbone.layer4'],  # the backbone's last feature map
        # student features masked (ratio 0.65) and regenerated in the
        # teacher's channels; lambda_mgd and alpha_mgd are those of
        # MMRazor's MGD config (RetinaNet X101 -> R50)
        student_connector=dict(type='MGDConnector', lambda_mgd=0.65),
        loss=dict(type='MGDLoss', alpha_mgd=0.00002),
        loss_name='loss_mgd'))
