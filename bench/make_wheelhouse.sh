#!/usr/bin/env bash
# Copyright (c) mmseg-attnkd contributors. All rights reserved.
#
# Build the wheel folder for an offline install of the OpenMMLab stack on a
# CUDA machine that has its own torch (see bench/gpu_setup.sh).
#
#   bash bench/make_wheelhouse.sh [DEST]        # DEST defaults to .whl
#
# Target: CPython 3.12 on x86-64 Linux with torch, numpy, opencv-python
# (or -headless), matplotlib, scipy, pyyaml, rich, packaging, pillow and
# regex already installed. mmcv is mmcv-lite 2.1.0 (no compiled ops);
# mmseg_attnkd.compat makes mmseg import and train without them. Every wheel
# is installed with --no-deps, so this list is the complete set of what the
# target lacks (about 6.5 MiB). Keep the folder out of version control.
set -euo pipefail

DEST=${1:-.whl}
PIP=${PIP:-python3 -m pip}
mkdir -p "$DEST"

# Pure-python wheels (py3-none-any), resolved for python 3.12.
PURE=(
  mmcv-lite==2.1.0        # import name mmcv; no compiled ops
  mmengine==0.10.7
  mmsegmentation==1.2.2
  mmrazor==1.0.0
  addict==2.4.0           # mmengine, mmcv
  yapf==0.43.0            # mmengine, mmcv (Config)
  platformdirs==4.14.9    # yapf
  termcolor==3.3.0        # mmengine logging
  prettytable==3.18.0     # mmseg IoUMetric
  ftfy==6.3.1             # mmseg.utils.tokenizer, imported by mmseg.models
  ordered-set==4.1.0      # mmrazor
  joblib==1.6.0           # mmrazor.models (predictor handlers)
  cloudpickle==3.1.3      # joblib
  # pkg_resources for mmengine's 'mmseg::' config paths; gpu_setup.sh
  # installs it only when the target python lacks pkg_resources
  setuptools==69.5.1
)
# Binary wheels for the target platform.
BINARY=(
  wcwidth==0.9.4          # prettytable, ftfy
)

$PIP download --no-deps --only-binary=:all: --python-version 3.12 -d "$DEST" \
  "${PURE[@]}"
$PIP download --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d "$DEST" "${BINARY[@]}"

ls -l "$DEST"/*.whl
du -ch "$DEST"/*.whl | tail -n 1
