#!/usr/bin/env bash
# Copyright (c) mmseg-attnkd contributors. All rights reserved.
#
# The GPU twins of the accuracy protocols as one prepared command, for one
# CUDA GPU with its own torch and no package index (16 CPU cores assumed):
# offline install of the OpenMMLab stack (bench/gpu_setup.sh), then the
# CamVid twin (bench/accuracy/run.py --protocol gpu) and the Drosophila ssTEM
# twin (bench/sstem/run.py --protocol gpu), each stopped from starting new
# runs at its own deadline. Results, logs and the first failing run's log
# tail go to OUT_DIR.
#
#   bash bench/gpu_twins.sh OUT_DIR [CAMVID_DATA] [SSTEM_DATA] [WHEELS]
#
# CAMVID_DATA: CamVid converted at 0.5 scale with train/val/test (what
# bench/accuracy/run.py writes to bench/cache/camvid-v2-scale0.5); SSTEM_DATA:
# the ssTEM study split at 0.5 scale (bench/cache/sstem-scale0.5). Minutes
# per twin: CAMVID_MIN and SSTEM_MIN (defaults 4 and 3: both, in-flight runs
# finishing, within one 10-minute command; a missing data folder skips a twin).
set -uo pipefail
OUT=${1:?usage: bash bench/gpu_twins.sh OUT_DIR [CAMVID_DATA] [SSTEM_DATA] [WHEELS]}
CAMVID=${2:-bench/cache/camvid-v2-scale0.5}
SSTEM=${3:-bench/cache/sstem-scale0.5}
WHL=${4:-.whl}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
bash bench/gpu_setup.sh "$WHL" /tmp/site > "$OUT/setup.log" 2>&1 \
  || { tail -30 "$OUT/setup.log"; exit 3; }
export PYTHONPATH=/tmp/site:$PWD

rc=0
if [ -d "$CAMVID" ]; then
  python3 bench/accuracy/run.py --protocol gpu --ablation --choose-on-val \
    --jobs 14 --deadline-min "${CAMVID_MIN:-4}" --data-cache "$CAMVID" \
    --work-root /tmp/twins/camvid --out-dir "$OUT" > "$OUT/camvid.log" 2>&1 \
    || rc=1
  grep -E '^\[' "$OUT/camvid.log" | tail -20
fi
if [ -d "$SSTEM" ]; then
  python3 bench/sstem/run.py --protocol gpu --data-dir "$SSTEM" \
    --deadline-min "${SSTEM_MIN:-3}" --work-root /tmp/twins/sstem \
    --out-dir "$OUT" > "$OUT/sstem.log" 2>&1 || rc=1
  tail -20 "$OUT/sstem.log"
fi
for f in $(grep -l Traceback /tmp/twins/*/*/*/train.log 2>/dev/null | head -1); do
  echo "== $f"; tail -25 "$f"
done > "$OUT/failure.txt"
tail -30 "$OUT/failure.txt"
exit $rc
