# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# MGD, masked generative distillation (Yang et al., ECCV 2022): MMRazor's
# MGDConnector and MGDLoss through StageDistiller, on the backbone's last
# feature map.
# A config applies it to a student/teacher pair it inherits:
#   model = dict(distiller=_base_.mgd_distiller)
mgd_distiller = dict(
    _delete_=True,
    type='StageDistiller',
    stages=['backbone.layer4'],  # the backbone's last feature map
    # student features masked (ratio 0.65) and regenerated in the
    # teacher's channels; lambda_mgd and alpha_mgd are those of
    # MMRazor's MGD config (RetinaNet X101 -> R50)
    student_connector=dict(type='MGDConnector', lambda_mgd=0.65),
    loss=dict(type='MGDLoss', alpha_mgd=0.00002),
    loss_name='loss_mgd')
