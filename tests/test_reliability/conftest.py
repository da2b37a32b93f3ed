# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Reliability tests run torch single-threaded (2 shared CPU cores)."""
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
