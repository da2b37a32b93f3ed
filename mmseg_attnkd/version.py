# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Single source of the package version (read by ``setup.py``)."""

__version__ = '0.1.0'


def parse_version_info(version_str: str) -> tuple:
    """Turn ``'0.1.0'`` into ``(0, 1, 0)``; non-numeric parts stay strings."""
    return tuple(int(p) if p.isdigit() else p for p in version_str.split('.'))


version_info = parse_version_info(__version__)
