#!/usr/bin/env bash
# Usage: tools/dist_launch.sh SCRIPT GPUS [SCRIPT args...]
# Runs tools/SCRIPT (train.py or test.py) in GPUS processes per node under
# torchrun with --launcher pytorch; tools/dist_train.sh and
# tools/dist_test.sh call it. Env: NNODES (1), NODE_RANK (0), PORT (29500),
# MASTER_ADDR (127.0.0.1), PYTHON (python). On a machine without CUDA the
# processes use the gloo backend on the CPU.
set -euo pipefail
SCRIPT=$1
GPUS=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
DIR="$(cd "$(dirname "$0")" && pwd)"

PYTHONPATH="$DIR/..":${PYTHONPATH:-} \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$DIR/$SCRIPT" "$@" --launcher pytorch
