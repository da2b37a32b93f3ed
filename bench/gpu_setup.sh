#!/usr/bin/env bash
# Copyright (c) mmseg-attnkd contributors. All rights reserved.
#
# Offline install of the OpenMMLab stack on a CUDA machine that has its own
# torch: installs a wheel folder (built by bench/make_wheelhouse.sh: mmcv-lite
# 2.1.0 without compiled ops, mmengine, mmsegmentation, mmrazor and their
# small pure-python dependencies) into a target folder, without any package
# index, then prints the versions it sees.
#
#   bash bench/gpu_setup.sh [WHEEL_DIR] [TARGET]   # defaults: .whl /tmp/site
#   export PYTHONPATH=TARGET:$PWD                  # printed at the end
#
# Run it from the repository root. PYTHON selects the interpreter (python3).
# The setuptools<70 wheel (only for pkg_resources, which mmengine needs to
# resolve 'mmseg::' config paths) is installed only when that interpreter
# has no pkg_resources, so a working setuptools is never shadowed.
set -euo pipefail

WHL=${1:-.whl}
TARGET=${2:-/tmp/site}
PY=${PYTHON:-python3}

if [ ! -f mmseg_attnkd/__init__.py ]; then
  echo "run this from the repository root" >&2
  exit 1
fi
shopt -s nullglob
wheels=("$WHL"/*.whl)
if [ ${#wheels[@]} -eq 0 ]; then
  echo "no wheels in '$WHL' (build them with bench/make_wheelhouse.sh)" >&2
  exit 1
fi

install=()
for w in "${wheels[@]}"; do
  case "$(basename "$w")" in
    setuptools-*)
      if env -u PYTHONPATH "$PY" -W ignore -c 'import pkg_resources' \
          >/dev/null 2>&1; then
        echo "pkg_resources present: skipping $(basename "$w")"
        continue
      fi ;;
  esac
  install+=("$w")
done

"$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
  --upgrade --target "$TARGET" "${install[@]}"

PYTHONPATH="$TARGET:$PWD" "$PY" - <<'EOF'
import torch
import mmcv
import mmengine
import mmseg
import mmrazor
import mmseg_attnkd

print(f'torch     {torch.__version__} (CUDA build {torch.version.cuda})')
print(f'mmcv      {mmcv.__version__}')
print(f'mmengine  {mmengine.__version__}')
print(f'mmseg     {mmseg.__version__}')
print(f'mmrazor   {mmrazor.__version__}')
print(f'mmseg_attnkd {mmseg_attnkd.__version__}, compat: '
      f'{", ".join(mmseg_attnkd.compat.APPLIED)}')
available = torch.cuda.is_available()
print(f'CUDA available: {available}')
if available:
    print(f'device: {torch.cuda.get_device_name(0)}')
EOF
echo "export PYTHONPATH=$TARGET:$PWD"
