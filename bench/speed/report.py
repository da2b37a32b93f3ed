# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Markdown report of ``bench/speed/run.py`` (tables, targets, defaults)."""
import os.path as osp
from typing import Dict, List, Optional

from bench.lib import common
from bench.lib.timing import (Interval, format_ci, median_ci, ratio_ci,
                              verdict)

__all__ = ['write', 'render', 'pair_rows']

#: AttnFD step with the bf16 teacher, as a fraction of today's step.
ATTNFD_TARGET = 0.80


def _times(res: dict, arm: str) -> Optional[List[float]]:
    """Per-round seconds of ``arm`` (eager: phase 1; compiled: phase 2)."""
    if arm in res['times']:
        return res['times'][arm]
    comp = res['compile'].get(arm, {})
    return (comp.get('times') or {}).get(arm)


def _twin_times(res: dict, num: str, den: str):
    """Paired series of a ratio: from one process and one round order."""
    comp = res['compile'].get(num)
    if comp is not None:
        t = comp.get('times') or {}
        return t.get(num), t.get(den)
    return _times(res, num), _times(res, den)


def _mem_ratio(res: dict, num: str, den: str) -> Optional[float]:
    mem = res.get('memory', {})
    if all(mem.get(a, {}).get('step_peak') for a in (num, den)):
        return mem[num]['step_peak'] / mem[den]['step_peak']
    return None


def pair_rows(res: dict, pairs) -> List[dict]:
    """Time ratio (median of per-round ratios, 95% interval) and step-peak
    memory ratio of every pair measured at this scale."""
    rows = []
    for label, num, den in pairs:
        n, d = _twin_times(res, num, den)
        failed = res['compile'].get(num, {}).get('failed')
        if failed or not n or not d:
            rows.append(dict(label=label, num=num, den=den, time=None,
                             memory=None, failed=failed))
            continue
        rows.append(dict(label=label, num=num, den=den,
                         time=ratio_ci(n, d).as_dict(),
                         memory=_mem_ratio(res, num, den), failed=None))
    return rows


def _iv(d: Optional[dict]) -> Optional[Interval]:
    return None if d is None else Interval(**d)


def _mib(res: dict, arm: str) -> str:
    mem = res.get('memory', {}).get(arm)
    if not mem or mem.get('failed'):
        return '-'
    return f'{common.mib(mem["step_peak"]):.0f}'


def _arm_table(res: dict) -> str:
    rows = []
    for arm in list(res['times']) + list(res['compile']):
        ts = _times(res, arm)
        comp = res['compile'].get(arm, {})
        note = ''
        if comp.get('failed'):
            note = f'compile failed: {comp["failed"]}'
        elif comp.get('compile_s') is not None:
            note = (f'compiled in {comp["compile_s"]:.0f} s (first call); '
                    'timed in its own process beside its eager twin')
            if comp.get('graph_breaks') is not None:
                reasons = '; '.join(r.replace('|', '/') for r, _ in
                                    comp['break_reasons'][:2])
                note += (f', {comp["graph_breaks"]} graph break(s)'
                         + (f': {reasons}' if reasons else ''))
        rows.append([arm, format_ci(median_ci(ts)) if ts else '-',
                     _mib(res, arm), note])
    return common.md_table(
        ['arm', 's/step, median [95% CI]', 'step peak MiB', 'note'], rows)


def _ratio_table(rows: List[dict]) -> str:
    out = []
    for r in rows:
        time = format_ci(_iv(r['time'])) if r['time'] else (
            'failed' if r['failed'] else '-')
        mem = '-' if r['memory'] is None else f'{r["memory"]:.2f}'
        out.append([r['label'], time, mem])
    return common.md_table(
        ['ratio', 'step time ratio, median [95% CI]', 'step peak memory ratio'],
        out)


def _numerics(num: dict) -> str:
    rows = [[k, 'x'.join(map(str, v['shape'])), f'{v["max_abs_diff"]:.4g}',
             f'{v["max_abs"]:.4g}', f'{v["rel"]:.2%}']
            for k, v in num['tensors'].items()]
    return (common.md_table(['tensor', 'shape', 'largest abs. difference',
                             'largest abs. fp32 value', 'relative'], rows) +
            f'\n\nArgmax class of the teacher logits unchanged on '
            f'{num["argmax_agreement"]:.2%} of the pixels of '
            f'{num["images"]} demo validation frames.')


def _defaults(data: dict) -> List[str]:
    """Channels-last and compile become defaults only if faster at every
    scale measured (upper interval bound below 1)."""
    lines = []
    for option, pairs in (('channels-last', ('student_cl', 'attnfd_cl',
                                             'axial_sd_cl')),
                          ('compile', ('student_compile', 'attnfd_compile',
                                       'axial_sd_compile'))):
        seen = [r for res in data['scales'].values()
                for r in res['pairs'] if r['num'] in pairs and r['time']]
        faster = seen and all(r['time'] and r['time']['high'] < 1
                              for r in seen)
        lines.append(
            f'* {option}: {"faster" if faster else "not faster"} in every '
            f'measured ratio ({len(seen)} measured) -> '
            f'{"default" if faster else "stays an option"}')
    return lines


def render(data: dict) -> str:
    """The whole markdown report."""
    parts = [
        f'Generated by `{data["command"]}` ('
        f'{common.machine_line(dict(data["machine"], commit=data["commit"]))}'
        f'); {data["rounds"]} '
        f'interleaved rounds of one step per arm, 1-min load '
        f'{data["load_start"]} at the start and {data["load_end"]} at the '
        f'end, {data["wall_s"] / 60:.0f} min in all.', '']
    targets = []
    for scale, res in data['scales'].items():
        parts += [f'#### {scale} scale (batch {res["batch"]}, crop '
                  f'{res["crop"][0]}x{res["crop"][1]})', '',
                  _arm_table(res), '', _ratio_table(res['pairs']), '']
        r = next((r for r in res['pairs'] if r['num'] == 'attnfd_bf16'),
                 None)
        if r and r['time']:
            targets.append(
                f'* {scale}: AttnFD step with the bf16 teacher <= '
                f'{ATTNFD_TARGET:.2f}x of today\'s: '
                f'{format_ci(_iv(r["time"]))} -> '
                f'{verdict(_iv(r["time"]), ATTNFD_TARGET)}')
    if data.get('bf16_numerics'):
        parts += ['#### bf16 teacher numerics (the demo teacher, AttnFD '
                  'records)', '', _numerics(data['bf16_numerics']), '']
    parts += ['#### Targets and defaults', ''] + targets + _defaults(data)
    return '\n'.join(parts) + '\n'


def write(out_dir: str, name: str, data: dict) -> str:
    """Add the pair ratios to ``data`` and write ``<name>.{md,json}``."""
    from bench.speed.arms import PAIRS
    for res in data['scales'].values():
        res['pairs'] = pair_rows(res, data.get('pairs') or PAIRS)
    text = render(data)
    common.save_results(out_dir, name, text, data)
    return osp.join(out_dir, name + '.md')
