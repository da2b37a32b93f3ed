# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# DeepLabV3+ R50-d8: MMSeg's own model as is (SyncBN, 19 classes), the
# teacher of the benchmarks' R18-d8 scale (bench/overhead, bench/parity:
# from scratch with BN; their --teacher-depth 101 changes the depth only).
# Its student is ./deeplabv3plus_r18-d8.py, the same base at depth 18.
_base_ = 'mmseg::_base_/models/deeplabv3plus_r50-d8.py'
