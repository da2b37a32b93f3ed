# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The parity benchmark's markdown: parameters, FLOPs, output agreement and
eager latency of the exported models, and the latency target.
"""
from bench.lib import common, timing


#: Target of the teacher-output model's eager latency: at most this times
#: its student's (median of per-run ratios) at ``--target-size``.
LATENCY_TARGET = 1.25


def report(res: dict, info: dict) -> str:
    a = res['attnfd']
    lines = [
        '### Inference parity', '',
        f'Machine: {common.machine_line(info)}.', '',
        f'**AttnFD export** (DeepLabV3+ R18-d8, {a["size"][0]}x'
        f'{a["size"][1]}, 11 classes; the training model with connectors '
        f'has {a["distill_training_params"] / 1e6:.2f} M parameters incl. '
        'teacher):', ''
    ]
    lines.append(common.md_table(
        ['', 'baseline student', 'exported AttnFD student', 'ratio'],
        [['params', f'{a["baseline_params"]:.0f}',
          f'{a["exported_params"]:.0f}', f'{a["params_ratio"]:.3f}'],
         ['FLOPs', f'{a["baseline_flops"]:.4g}', f'{a["exported_flops"]:.4g}',
          f'{a["flops_ratio"]:.3f}']]))
    ok = (a['params_ratio'] == 1.0 and a['flops_ratio'] == 1.0
          and a['bit_identical'] and a['keys_ok'])
    lines += [
        '', f'Exported logits vs distillation student logits (same weights):'
        f' max |diff| = {a["max_abs_diff"]:.3g}, bit-identical: '
        f'{a["bit_identical"]}. Target (ratio 1.000, same outputs): '
        f'{"met" if ok else "NOT met"}.', '',
        '**Axial self-distillation, teacher-output export** '
        '(`AxialRefineHead`, `AxialAttention2d` with 64 channels, 8 heads, '
        f'span 64, stride {res["args"]["axial_stride"]}):', ''
    ]
    rows = []
    for r in res['axial']:
        rows.append([
            f'{r["size"][0]}x{r["size"][1]}', r['num_classes'],
            f'{r["logit_size"][0]}x{r["logit_size"][1]}',
            f'{r["student_flops"] / 1e9:.2f}',
            f'{r["teacher_output_flops"] / 1e9:.2f}',
            f'{r["extra_flops_pct"]:.2f}%', f'{r["extra_params"]:.0f}',
            _ms(r['student_latency']), _ms(r['teacher_output_latency']),
            f'{_pct(r["latency_ratio"])} ({r["extra_latency_pct_min"]:+.1f}'
            '%)',
            f'{r["max_abs_diff"]:.2g}'
        ])
    lines.append(common.md_table(
        ['input HxW', 'classes', 'logits', 'student GFLOPs',
         'teacher-output GFLOPs', 'extra FLOPs', 'extra params',
         'student ms [95% CI]', 'teacher-output ms [95% CI]',
         'extra latency: median of per-run ratios [95% CI] (of minima)',
         'max |diff| vs training'], rows))
    big = [r for r in res['axial'] if r['size'] == [512, 1024]]
    if big:
        met = big[0]['extra_flops_pct'] <= 5.0
        lines += ['', f'Target (<= 5% extra FLOPs at 512x1024): '
                  f'{"met" if met else "NOT met"} '
                  f'({big[0]["extra_flops_pct"]:.2f}%).']
    line = latency_target_line(res)
    if line:
        lines += ['', line]
    return '\n'.join(lines)


def _ms(lat: dict) -> str:
    return timing.format_ci(timing.Interval(**lat['ci_s']), 0, 1e3)


def _pct(ratio: dict) -> str:
    return timing.format_extra_pct(timing.Interval(**ratio))


def latency_target_line(res: dict) -> str:
    """The latency target stated met or missed ('' without its size)."""
    bound = LATENCY_TARGET
    size = list(parse_size(res['args']['target_size'])[0])
    rows = [r for r in res['axial'] if list(r['size']) == size]
    if not rows:
        return ''
    iv = timing.Interval(**rows[0]['latency_ratio'])
    return (f'Target (teacher-output eager latency <= '
            f'{100 * (bound - 1):+.0f}% over its student at '
            f'{size[0]}x{size[1]}, stride {res["args"]["axial_stride"]}): '
            f'{timing.verdict(iv, bound)} '
            f'({_pct(rows[0]["latency_ratio"])}; 1-min load average '
            f'{res["machine"]["loadavg_1m"]} at start, '
            f'{res["machine"].get("loadavg_1m_end")} at end).')


def parse_size(text: str):
    """``HxW[:classes]`` -> ``((H, W), classes)`` (19 classes by default)."""
    hw, _, classes = text.partition(':')
    h, w = (int(v) for v in hw.split('x'))
    return (h, w), int(classes or 19)
