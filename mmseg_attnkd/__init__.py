# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""mmseg-attnkd: knowledge distillation for MMSegmentation on MMRazor.

Importing the package

1. applies :mod:`mmseg_attnkd.compat` (fixes for mmrazor 1.0.0 / mmengine
   0.10.7 on a modern torch) before anything builds a config,
2. registers every component: attention blocks, connectors, losses and
   distillers in MMRazor's ``MODELS``; heads in MMSeg's ``MODELS``; datasets
   in MMSeg's ``DATASETS``, and
3. keeps two results MMEngine recomputes from unchanged input: the yapf
   formatting of a config text and its metafile lookup of each
   ``mmseg::`` base name (:mod:`mmseg_attnkd.utils.config.memo`).

Where to find things (one hop each):

* :mod:`mmseg_attnkd.models.attention` - ``CBAM``, ``AxialAttention2d``
* :mod:`mmseg_attnkd.models.connectors` - MMRazor connectors
* :mod:`mmseg_attnkd.models.losses` - ``AttnFDLoss`` and self-distill losses
* :mod:`mmseg_attnkd.models.distillers` - ``AttnFDDistiller``,
  ``AxialSelfDistiller``, ``AttnFDAxialDistiller`` (both together)
* :mod:`mmseg_attnkd.models.heads` - ``AxialRefineHead`` (MMSeg only)
* :mod:`mmseg_attnkd.datasets` - CamVid, Drosophila ssTEM, MedSeg COVID CT
* :mod:`mmseg_attnkd.models.algorithms` - ``SegSingleTeacherDistill``,
  ``SegSelfDistill`` (MMRazor algorithms with build-time checks)
* :mod:`mmseg_attnkd.engine` - ``AtomicCheckpointHook``, ``CropSizeCheckHook``,
  ``NonFiniteLossHook``, ``RandomStateHook``, the self-distillation loops
* :mod:`mmseg_attnkd.utils` - checkpoints (safe loading, atomic saving),
  configs, exports
* :mod:`mmseg_attnkd.analysis` - tap inspection, FLOPs, visualisation

Command-line-only code is not imported here; the tools import it when they
run: :mod:`mmseg_attnkd.release` (model-zoo tables, publishing),
:mod:`mmseg_attnkd.datasets.converters` (raw datasets -> MMSeg layout),
:mod:`mmseg_attnkd.deployment` (ONNX).
"""
from . import compat  # noqa: F401  (must run before mmrazor is imported)
from . import datasets, engine, models, utils  # noqa: F401,E402
from .utils.config.memo import apply_memos  # noqa: E402
from .version import __version__, version_info  # noqa: E402

apply_memos()

__all__ = ['__version__', 'version_info', 'compat', 'datasets', 'engine',
           'models', 'utils']
