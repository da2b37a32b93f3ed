# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial vs full self-attention on the same logits: time and peak memory.

Both refiners take ``(1, C, S, S)`` logits (C = 19) and share everything but
the attention: 1x1 embedding to ``D = 64`` channels, GroupNorm + ReLU,
8 heads with ``D/8 // 2`` query/key and ``D/8`` value channels per head,
GroupNorm + ReLU, zero-free 1x1 projection back to ``C`` with a residual.

* axial: :class:`mmseg_attnkd.models.attention.AxialAttention2d` (height then
  width attention, relative positions; Wang et al., ECCV 2020);
* full: :class:`FullAttention2d` below, one multi-head attention over all
  ``S*S`` positions (no positional terms; they would only add cost). The
  ``(S*S)**2`` attention matrix is materialised, as in the axial block.

Modes: ``train`` = forward + backward (how the self-distillation teacher
runs), ``infer`` = forward under ``no_grad``.

Time: median over ``--runs`` in one process. Peak memory: a fresh process per
(block, size, mode) with ``MALLOC_MMAP_THRESHOLD_=65536``; peak RSS
(``VmHWM``) minus RSS before the forward (after a 4x4 warm-up pass that
pages in kernel code). Full attention is skipped where
its attention matrices alone would exceed ``--mem-cap-gib``; the table then
gives that lower bound (``N**2 * heads * 4`` bytes for one matrix).

Growth exponents: least-squares slope of log(time) and log(memory) against
log(number of pixels N = S*S) over the measured sizes (theory: axial
``N**1.5``, full ``N**2``; small sizes are dominated by fixed costs, so the
slope over the largest sizes is given too).

Example::

    python bench/axial_scaling/run.py
    python bench/axial_scaling/run.py --sizes 16 32 --runs 1 \
        --out-dir bench/results/quick
"""
import argparse
import importlib.util
import os.path as osp
import statistics
import sys
import time
import types

if __package__ in (None, ''):  # run as a script: the repository first
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from bench.axial_scaling.arms import BLOCKS, MODES  # noqa: E402
from bench.axial_scaling.report import report  # noqa: E402
from bench.lib import common  # noqa: E402


def _axial_cls():
    """``AxialAttention2d`` loaded from its file (torch only; avoids paying
    for the OpenMMLab imports in every measuring process)."""
    # a bare package over the folder: its modules load without the
    # package __init__ (which imports MMRazor for the CBAM registration)
    folder = osp.join(common.REPO_ROOT, 'mmseg_attnkd', 'models', 'attention')
    if '_bench_attention' not in sys.modules:
        pkg = types.ModuleType('_bench_attention')
        pkg.__path__ = [folder]
        sys.modules['_bench_attention'] = pkg
    return importlib.import_module(
        '_bench_attention.axial_attention').AxialAttention2d


def full_attention_cls():
    import torch
    from torch import nn

    class FullAttention2d(nn.Module):
        """Residual multi-head self-attention over all ``H*W`` positions.

        Shapes: ``(N, C, H, W)`` -> ``(N, C, H, W)``; the attention matrix
        is ``(N, heads, H*W, H*W)``.
        """

        def __init__(self, in_channels: int, channels: int = 64,
                     num_heads: int = 8) -> None:
            super().__init__()
            self.num_heads = num_heads
            self.v = channels // num_heads
            self.qk = max(self.v // 2, 1)
            self.embed = nn.Conv2d(in_channels, channels, 1)
            self.norm1 = nn.GroupNorm(num_heads, channels)
            self.qkv = nn.Conv1d(channels, num_heads * (2 * self.qk + self.v),
                                 1, bias=False)
            self.norm2 = nn.GroupNorm(num_heads, channels)
            self.proj = nn.Conv2d(channels, in_channels, 1)
            self.act = nn.ReLU()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            n, _, h, w = x.shape
            e = self.act(self.norm1(self.embed(x))).flatten(2)
            qkv = self.qkv(e).reshape(n, self.num_heads, -1, h * w)
            q, k, v = torch.split(qkv, [self.qk, self.qk, self.v], dim=2)
            attn = torch.einsum('bgci,bgcj->bgij', q * self.qk**-0.5,
                                k).softmax(dim=-1)
            out = torch.einsum('bgij,bgcj->bgci', attn, v)
            out = out.reshape(n, -1, h, w)
            return x + self.proj(self.act(self.norm2(out)))

    return FullAttention2d


def build(block: str, args):
    import torch
    torch.manual_seed(0)
    if block == 'axial':
        return _axial_cls()(args.num_classes, channels=args.channels,
                            num_heads=args.heads, zero_init=False)
    return full_attention_cls()(args.num_classes, args.channels, args.heads)


def full_matrix_bytes(size: int, args) -> int:
    n = size * size
    return n * n * args.heads * 4


def run_once(module, x, mode: str):
    import torch
    if mode == 'train':
        x = x.detach().requires_grad_(True)
        module(x).square().mean().backward()
    else:
        with torch.no_grad():
            module(x)


def measure_memory(block: str, size: int, mode: str, args) -> dict:
    import torch
    module = build(block, args)
    # a tiny pass first pages in the kernels' code and allocator arenas, so
    # the increase below is the data of the measured pass
    run_once(module, torch.randn(1, args.num_classes, 4, 4), mode)
    module.zero_grad(set_to_none=True)
    x = torch.randn(1, args.num_classes, size, size)
    before = common.current_rss_bytes()
    run_once(module, x, mode)
    return dict(peak_increment=common.peak_rss_bytes() - before)


def measure_time(block: str, size: int, mode: str, args) -> dict:
    import torch
    module = build(block, args)
    x = torch.randn(1, args.num_classes, size, size)
    run_once(module, x, mode)  # warm-up
    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        run_once(module, x, mode)
        times.append(time.perf_counter() - t)
        module.zero_grad(set_to_none=True)
    return dict(median_s=statistics.median(times), min_s=min(times))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', nargs='+', type=int,
                        default=[32, 64, 128, 256])
    parser.add_argument('--modes', nargs='+', default=list(MODES),
                        choices=MODES)
    parser.add_argument('--num-classes', type=int, default=19)
    parser.add_argument('--channels', type=int, default=64)
    parser.add_argument('--heads', type=int, default=8)
    parser.add_argument('--runs', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--mem-cap-gib', type=float, default=6.0)
    parser.add_argument('--out-dir', default=common.RESULTS_DIR)
    parser.add_argument('--name', default='axial_scaling')
    parser.add_argument('--worker', nargs=3, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    if args.worker:
        import json
        block, size, mode = args.worker
        print(json.dumps(measure_memory(block, int(size), mode, args)))
        return {}
    info = common.machine_info()
    res = dict(machine=info, args=vars(args), points={})
    # 3 matrices live at once in train mode (scores, softmax, gradient),
    # 2 in inference (scores, softmax)
    live = dict(train=3, infer=2)
    for mode in args.modes:
        res['points'][mode] = {b: {} for b in BLOCKS}
        for size in args.sizes:
            for block in BLOCKS:
                point = dict(size=size)
                bound = full_matrix_bytes(size, args)
                if block == 'full' and bound * live[mode] > \
                        args.mem_cap_gib * 2**30:
                    point['lower_bound'] = bound
                    print(f'{mode} {block} {size}: skipped (>= '
                          f'{common.mib(bound):.0f} MiB)', flush=True)
                else:
                    point.update(measure_time(block, size, mode, args))
                    point.update(common.run_json_subprocess([
                        osp.abspath(__file__), '--worker', block,
                        str(size), mode, '--num-classes',
                        str(args.num_classes), '--channels',
                        str(args.channels), '--heads', str(args.heads),
                        '--threads', str(args.threads)]))
                    print(f'{mode} {block} {size}: '
                          f'{point["median_s"] * 1e3:.1f} ms, '
                          f'{common.mib(point["peak_increment"]):.1f} MiB',
                          flush=True)
                res['points'][mode][block][str(size)] = point
    text = report(res, args, info)
    common.save_results(args.out_dir, args.name, text, res)
    print(text)
    return res


if __name__ == '__main__':
    main()
