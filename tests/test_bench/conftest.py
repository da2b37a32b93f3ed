# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Fixtures shared by the benchmark tests."""
import pytest
import torch


@pytest.fixture
def restore_threads_and_logger():
    """The bench mains set torch threads and the MMEngine log level."""
    from mmengine.logging import MMLogger
    threads = torch.get_num_threads()
    logger = MMLogger.get_current_instance()
    level = logger.level
    yield
    torch.set_num_threads(threads)
    logger.setLevel(level)
