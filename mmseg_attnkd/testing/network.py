# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Ports for multi-process tests."""
import socket

__all__ = ['free_port']


def free_port() -> str:
    """A TCP port on 127.0.0.1 that is free now (for ``MASTER_PORT``).

    A fixed port fails when two test runs (or a leftover process) share a
    machine; the OS picks one that nothing listens on.
    """
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])
