# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Where the benchmarks live and write: ``bench/``, its results, the repo."""
import os.path as osp

#: ``bench/`` (this file is ``bench/lib/paths.py``).
BENCH_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
REPO_ROOT = osp.dirname(BENCH_DIR)
RESULTS_DIR = osp.join(BENCH_DIR, 'results')
README = osp.join(BENCH_DIR, 'README.md')
#: What the benchmarks write into the tree (a git pathspec of
#: :data:`RESULTS_DIR`); not a change of the code.
RESULTS_PATHSPEC = 'bench/results'


def rel(path: str) -> str:
    """``path`` relative to the repository root."""
    return osp.relpath(path, REPO_ROOT)
