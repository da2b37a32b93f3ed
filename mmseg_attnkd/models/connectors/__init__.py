# Copyright (c) mmseg-attnkd contributors. All rights reserved.
from .axial_connector import AxialConnector
from .cbam_connector import CBAMConnector, TeacherCBAMConnector

__all__ = ['CBAMConnector', 'TeacherCBAMConnector', 'AxialConnector']
