# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Markdown report of ``overhead.py`` (tables and the target verdicts)."""
from typing import List, Optional

from bench.accuracy import arms as camvid_arms
from bench.lib import common
from bench.lib.timing import N_BOOT, Interval, format_ci

__all__ = ['report', 'protocol_stride', 'target_rows']


def protocol_stride() -> int:
    """Axial stride of the CPU accuracy protocol (1 when not set)."""
    return int((camvid_arms.PROTOCOLS['cpu'].get('axial') or {}).get(
        'stride', 1))


def _iv(d: Optional[dict]) -> Optional[Interval]:
    return None if d is None else Interval(**d)


def _f(v: Optional[float], fmt: str = '.3f') -> str:
    return '-' if v is None else format(v, fmt)


def _mib(mem: dict, key: str) -> str:
    return f'{common.mib(mem[key]):.0f}' if mem else '-'


def _stride_note(arm: str) -> str:
    stride = 2 if arm.endswith('_s2') else 1
    return (' (the CPU accuracy protocol\'s setting)'
            if stride == protocol_stride() else '')


def target_rows(results: dict) -> List[List[str]]:
    """One row per target: scale, target, measured value, verdict."""
    rows = []
    for scale, res in results.get('scales', {}).items():
        for r in res['ratios']:
            for t in r['targets']:
                if t['what'] == 'time':
                    value = format_ci(_iv(r['time']))
                    what = (f'{r["label"]} step time <= {t["bound"]:.2f}x'
                            + _stride_note(r['num']))
                else:
                    value = _f(r['step_peak'])
                    what = f'{r["label"]} step memory <= {t["bound"]:.2f}x'
                rows.append([scale, what, value, t['verdict']])
    for row, r in results.get('block', {}).get('rows', {}).items():
        if 'target' in r:
            stride = row.rsplit('_s', 1)[1]
            rows.append([
                'block', f'axial block stride {stride}: fwd+bwd <= '
                f'{r["target"]["bound"]:g}x fwd',
                format_ci(_iv(r['fwd_bwd_over_fwd']), 2),
                r['target']['verdict']
            ])
    return rows


def _scale_section(res: dict) -> List[str]:
    s = res['setting']
    lines = [
        f'#### {res["title"]} ({s["size"][0]}x{s["size"][1]}, batch '
        f'{s["batch"]})', '',
        f'1-min load average: {res["load_start"]} at start, '
        f'{res["load_after_time"]} after timing, {res["load_end"]} at end.',
        ''
    ]
    rows = []
    for arm, r in res['arms'].items():
        mem = res['memory'].get(arm, {})
        rows.append([
            arm, format_ci(_iv(r['time'])), f'{r["min_s"]:.3f}',
            f'{r["trainable_params"] / 1e6:.3f}', _mib(mem, 'step_peak'),
            _mib(mem, 'peak_rss')
        ])
    lines += [common.md_table(
        ['arm', 's/iter median [95% CI]', 'min s/iter',
         'trainable params (M)', 'step peak (MiB)', 'process peak (MiB)'],
        rows), '']
    rows = []
    for r in res['ratios']:
        rows.append([
            r['label'], format_ci(_iv(r['time'])),
            f'{r["time_of_minima"]:.3f}', _f(r['step_peak']),
            _f(r['process_peak']), '; '.join(
                f'{t["what"]} <= {t["bound"]:.2f}: {t["verdict"]}'
                for t in r['targets']) or '-'
        ])
    lines.append(common.md_table(
        ['ratio', 'time: median of per-round ratios [95% CI]',
         'time: ratio of minima', 'step peak', 'process peak', 'target'],
        rows))
    return lines


def _block_section(block: dict) -> List[str]:
    shape = tuple(block['shape'])
    lines = [
        f'#### The axial block alone (logits {shape}; the block that '
        'AxialSelfDistiller builds for the demo student)', '',
        f'Beside it, full self-attention over the same positions through '
        f'`F.scaled_dot_product_attention` (same embedding, norms and '
        f'residual; query, key and value as wide as the axial value per '
        f'head; no relative encodings). fwd: autograd on, as in a training '
        f'step; fwd+bwd: backward of mean(y^2). The CPU '
        f'accuracy protocol trains at stride {protocol_stride()}. 1-min '
        f'load average: {block["load_start"]} at start, '
        f'{block["load_end"]} at end.', ''
    ]
    rows = []
    for row, r in block['rows'].items():
        name, stride = row.rsplit('_s', 1)
        rows.append([
            name, stride, r['params'],
            format_ci(_iv(r['fwd_s']), 1, 1e3),
            format_ci(_iv(r['fwd_nograd_s']), 1, 1e3),
            format_ci(_iv(r['fwd_bwd_s']), 1, 1e3),
            format_ci(_iv(r['fwd_bwd_over_fwd']), 2),
            format_ci(_iv(r['fwd_bwd_over_fwd_nograd']), 2),
            format_ci(_iv(r.get('fwd_bwd_over_full_sdpa')), 2)
        ])
    lines.append(common.md_table(
        ['block', 'stride', 'params', 'fwd ms', 'fwd no_grad ms',
         'fwd+bwd ms', 'fwd+bwd / fwd', 'fwd+bwd / fwd no_grad',
         'fwd+bwd / full SDPA fwd+bwd'], rows))
    return lines


def report(results: dict, args) -> str:
    """The markdown of a run (every value with its 95% interval)."""
    info = results['machine']
    lines = [
        '### Training overhead and the axial block (CPU)', '',
        f'Machine: {common.machine_line(info)}; 1-min load average '
        f'{info.get("loadavg_1m_end")} at end; torch intra-op threads '
        f'{info["torch_threads"]}, inter-op '
        f'{info.get("torch_interop_threads")}, OMP_NUM_THREADS='
        f'{info.get("omp_num_threads")}; wall time '
        f'{info.get("wall_s", 0) / 60:.1f} min.', '',
        f'Time: every arm of a scale built in one process and stepped '
        f'round-robin on the same batch (SGD step included), '
        f'{args.rounds} rounds after {args.warmup} warm-up; medians with '
        f'95% percentile-bootstrap intervals ({N_BOOT} resamples of the '
        f'rounds); a ratio is the median of the per-round ratios. Memory: '
        f'a fresh process per arm over {args.mem_iters} iterations; step '
        f'peak = peak RSS - RSS before the first step.', ''
    ]
    for res in results.get('scales', {}).values():
        lines += _scale_section(res) + ['']
    if 'block' in results:
        lines += _block_section(results['block']) + ['']
    lines += ['#### Targets', '', common.md_table(
        ['scale', 'target', 'measured [95% CI]', 'verdict'],
        target_rows(results))]
    return '\n'.join(lines)
