# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Train a config, then evaluate the final model on its test loader.

One process for both (the protocols run dozens of short runs, and a second
Python start per run costs more than the test itself). Resumes like
``tools/train.py --resume`` when the work dir has a checkpoint; the test
metrics go to ``<work_dir>/test_metrics.json``::

    python bench/lib/train_test.py CONFIG --work-dir DIR [--resume]
"""
import argparse
import json
import os.path as osp
import sys

if __package__ in (None, ''):  # run as a script: the repository first
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

import mmseg_attnkd  # noqa: F401,E402
from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from mmseg_attnkd.utils import adapt_cfg_to_environment  # noqa: E402


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('--work-dir', required=True)
    parser.add_argument('--resume', action='store_true')
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    cfg.work_dir = args.work_dir
    cfg.launcher = 'none'
    if args.resume:
        cfg.resume, cfg.load_from = True, None
    adapt_cfg_to_environment(cfg)
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    metrics = {k: float(v) for k, v in metrics.items()}
    tmp = osp.join(args.work_dir, 'test_metrics.json.tmp')
    with open(tmp, 'w') as f:
        json.dump(metrics, f)
    import os
    os.replace(tmp, osp.join(args.work_dir, 'test_metrics.json'))
    return metrics


if __name__ == '__main__':
    main()
