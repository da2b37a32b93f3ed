# Copyright (c) mmseg-attnkd contributors. All rights reserved.
from .attnfd_loss import AttnFDLoss
from .decode_head_loss import DecodeHeadLoss
from .label_smooth_ce_loss import LabelSmoothCrossEntropyLoss
from .resized_student_loss import ResizedStudentLoss
from .self_distill_kl_loss import SelfDistillKLLoss
from .self_distill_mse_loss import SelfDistillMSELoss

__all__ = [
    'AttnFDLoss', 'DecodeHeadLoss', 'LabelSmoothCrossEntropyLoss',
    'ResizedStudentLoss', 'SelfDistillKLLoss', 'SelfDistillMSELoss'
]
