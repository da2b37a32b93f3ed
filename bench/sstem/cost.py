# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The ssTEM study's costs: parameters, FLOPs and CPU latency of the student
and the teacher-output model of every architecture.
"""
import json
import os.path as osp
import statistics
import time
from typing import Tuple

from bench.lib import common, runs
from bench.sstem.arms import (INFERENCE_MODES, arm_model, build,
                              teacher_output_model)


# ---------------------------------------------------------------------------
# cost: params, FLOPs, CPU latency
# ---------------------------------------------------------------------------
def latency_ms(model, size: Tuple[int, int], repeats: int) -> float:
    import torch
    h, w = size
    inputs = torch.randn(1, 3, h, w)
    metas = [dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w))]
    times = []
    with torch.no_grad():
        for i in range(repeats + 1):
            start = time.perf_counter()
            model.inference(inputs, [dict(m) for m in metas])
            if i:  # the first call warms up
                times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def complexity(arch: str, args, image_size: Tuple[int, int]) -> dict:
    """Params/FLOPs (one crop window) and CPU latency (one section, per
    inference mode: ``latency_ms[mode]``) of the student and the
    teacher-output model."""
    import torch

    from mmseg_attnkd.analysis.complexity import segmentor_complexity
    models = (('student', arm_model(arch, 'baseline', args)),
              ('teacher', teacher_output_model(arch, args)))
    # keyed by the measured models, the input and the threads
    sha = runs.config_digest([models, list(args.crop), list(image_size),
                              list(INFERENCE_MODES)])
    path = osp.join(args.work_root, args.protocol,
                    f'complexity_{arch}_{args.latency_threads}t_{sha}.json')
    if osp.isfile(path):
        with open(path) as f:
            return json.load(f)
    threads = torch.get_num_threads()
    torch.set_num_threads(args.latency_threads)
    out = {}
    try:
        for name, cfg in models:
            cost = segmentor_complexity(
                build(dict(cfg, _scope_='mmseg')).eval(), tuple(args.crop))
            latency = {}
            for mode in INFERENCE_MODES:
                test_cfg = cfg['test_cfg'] if mode == 'slide' else dict(
                    mode='whole')
                model = build(dict(cfg, _scope_='mmseg',
                                   test_cfg=test_cfg)).eval()
                latency[mode] = latency_ms(model, image_size,
                                            args.latency_repeats)
            out[name] = dict(params=cost['params'], flops=cost['flops'],
                             latency_ms=latency)
    finally:
        torch.set_num_threads(threads)
    out.update(crop=list(args.crop), image=list(image_size),
               threads=args.latency_threads)
    common.write_json(path, out)
    return out
