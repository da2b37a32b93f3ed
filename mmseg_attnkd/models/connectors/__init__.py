# Copyright (c) mmseg-attnkd contributors. All rights reserved.
from .axial_connector import AxialConnector
from .cbam_connector import CBAMConnector, TeacherCBAMConnector
from .device_memory import default_memory_budget, device_memory_bytes
from .ofd_margin_connector import OFDMarginConnector, bn_margin
from .pixel_samples_connector import PixelSamplesConnector

__all__ = [
    'CBAMConnector', 'TeacherCBAMConnector', 'AxialConnector',
    'OFDMarginConnector', 'bn_margin', 'PixelSamplesConnector',
    'default_memory_budget', 'device_memory_bytes'
]
