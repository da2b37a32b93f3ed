# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Training-loop reliability: crash-safe checkpoints and pre-flight checks.

Hooks are registered in MMEngine's root ``HOOKS`` registry, so they build
from any scope (``default_scope='mmseg'`` or ``'mmrazor'``).
"""
from .hooks import *  # noqa: F401,F403
