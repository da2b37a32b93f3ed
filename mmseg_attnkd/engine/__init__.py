# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Training-loop reliability and self-distillation evaluation.

Hooks (crash-safe checkpoints, pre-flight checks) are registered in
MMEngine's root ``HOOKS`` registry, so they build from any scope
(``default_scope='mmseg'`` or ``'mmrazor'``); the loops that score both
outputs of axial self-distillation are in MMRazor's ``LOOPS``.
"""
from .hooks import *  # noqa: F401,F403
from .runner import *  # noqa: F401,F403
