# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Helpers for the tests that import a tool script (tools is no package)."""
import importlib.util
import os.path as osp

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def load_tool(relpath: str):
    """Import a script under ``tools/`` by path (tools is no package)."""
    name = 'attnkd_tool_' + relpath.replace('/', '_')[:-3]
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO, 'tools', relpath))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
