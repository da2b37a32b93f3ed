# Copyright (c) mmseg-attnkd contributors. All rights reserved.
import pytest

from _dataset_fixtures import SHARED_DATA, write_segnet_camvid, write_sstem


@pytest.fixture
def segnet_camvid(tmp_path):
    return write_segnet_camvid(str(tmp_path / 'CamVid'))


@pytest.fixture
def sstem_raw(tmp_path):
    return write_sstem(str(tmp_path / 'stack1'))


@pytest.fixture
def shared_data():
    return SHARED_DATA
