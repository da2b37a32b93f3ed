# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Module names of a model and the hint naming the closest existing ones.

Every error about a module or parameter name that a model does not have
(distiller stages, recorder sources, ``kd_inspect --module``) ends with the
same hint, built here.
"""
import difflib
from typing import List, Optional, Sequence

import torch.nn as nn

__all__ = ['closest_names_hint', 'module_names', 'missing_module_hint']


def module_names(model: nn.Module) -> List[str]:
    """Dotted names of ``model``'s submodules (the root excluded)."""
    return [name for name, _ in model.named_modules() if name]


def closest_names_hint(name: str, candidates: Sequence[str]) -> str:
    """``"Closest names: [...]."`` for a name that is not in ``candidates``.

    The closest names by ``difflib``; else the names sharing ``name``'s
    first component; else the top-level names.

    Args:
        name: The unknown name, e.g. ``'decode_head.conv_sag'``.
        candidates: Existing names, e.g. :func:`module_names` of the model.

    Returns:
        str: One sentence, e.g. ``"Closest names: ['decode_head.conv_seg']."``
    """
    candidates = list(candidates)
    close = difflib.get_close_matches(name, candidates, n=5, cutoff=0.4)
    if not close:
        first = name.split('.')[0]
        close = [c for c in candidates if c.split('.')[0] == first][:5]
    if close:
        return f'Closest names: {close}.'
    return f'Top-level names: {[c for c in candidates if "." not in c]}.'


def missing_module_hint(model: nn.Module, name: str) -> Optional[str]:
    """None if ``model`` has a submodule ``name``, else the closest-name hint.

    Args:
        model: The model whose ``named_modules()`` are searched.
        name: A dotted module name.
    """
    names = module_names(model)
    return None if name in names else closest_names_hint(name, names)
