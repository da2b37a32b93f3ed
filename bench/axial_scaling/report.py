# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The axial-scaling benchmark's markdown: time and memory of axial and full
attention per input size, and the fitted growth exponents.
"""
import math

from bench.axial_scaling.arms import BLOCKS
from bench.lib import common


def slope(xs, ys):
    if len(xs) < 2:
        return None
    lx = [math.log(v) for v in xs]
    ly = [math.log(v) for v in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    den = sum((a - mx)**2 for a in lx)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / den


def fits(points, key):
    pts = [(p['size']**2, p[key]) for p in points
           if p.get(key) is not None and p[key] > 0]
    return slope(*zip(*pts)) if len(pts) >= 2 else None, \
        slope(*zip(*pts[-2:])) if len(pts) >= 2 else None


def report(res, args, info) -> str:
    lines = [
        f'### Axial vs full self-attention ({args.num_classes}-class logits, '
        f'{args.channels} channels, {args.heads} heads, batch 1)', '',
        f'Machine: {common.machine_line(info)}. Time: median of {args.runs} '
        f'runs; memory: peak RSS increase in a fresh process; full attention '
        f'is run only while its attention matrices fit in '
        f'{args.mem_cap_gib} GiB (else ">= lower bound").', ''
    ]
    for mode in args.modes:
        lines.append(f'**{mode}** ('
                     + ('forward + backward' if mode == 'train' else
                        'forward, no_grad') + ')')
        lines.append('')
        rows = []
        for size in args.sizes:
            row = [f'{size}x{size}']
            for block in BLOCKS:
                p = res['points'][mode][block].get(str(size))
                if p and p.get('median_s') is not None:
                    row += [f'{p["median_s"] * 1e3:.1f}',
                            f'{common.mib(p["peak_increment"]):.1f}']
                elif p:
                    bound = common.mib(p['lower_bound'])
                    row += ['skipped', f'>= {bound:.0f}']
                else:
                    row += ['-', '-']
            a = res['points'][mode]['axial'].get(str(size))
            f = res['points'][mode]['full'].get(str(size))
            if a and f:
                fm = f.get('peak_increment') or f.get('lower_bound')
                ratio = a['peak_increment'] / fm
                row.append(('<= ' if f.get('median_s') is None else '') +
                           f'{ratio:.4f}')
            else:
                row.append('-')
            rows.append(row)
        lines.append(common.md_table(
            ['size', 'axial ms', 'axial MiB', 'full ms', 'full MiB',
             'axial/full memory'], rows))
        lines.append('')
        rows = []
        for block in BLOCKS:
            pts = [p for s, p in sorted(res['points'][mode][block].items(),
                                        key=lambda kv: int(kv[0]))
                   if p.get('median_s') is not None]
            for p in pts:
                p['size'] = int(p['size'])
            t_all, t_last = fits(pts, 'median_s')
            m_all, m_last = fits(pts, 'peak_increment')

            def f(v):
                return '-' if v is None else f'{v:.2f}'

            rows.append([block, len(pts), f(t_all), f(t_last), f(m_all),
                         f(m_last)])
        lines.append(common.md_table(
            ['block', 'sizes measured', 'time exponent (all)',
             'time exponent (2 largest)', 'memory exponent (all)',
             'memory exponent (2 largest)'], rows))
        lines.append('')
    t = res['points'].get('train', {})
    a = t.get('axial', {}).get('128')
    f = t.get('full', {}).get('128')
    if a and f:
        fm = f.get('peak_increment') or f.get('lower_bound')
        ratio = a['peak_increment'] / fm
        lines.append(f'Exponents are against the number of pixels N = S*S '
                     f'(theory: axial 1.5, full 2). Target (train-mode axial '
                     f'peak memory <= 1/10 of full at 128x128): '
                     f'{"met" if ratio <= 0.1 else "NOT met"} (ratio '
                     f'{"<= " if f.get("median_s") is None else ""}'
                     f'{ratio:.4f}).')
    return '\n'.join(lines)
