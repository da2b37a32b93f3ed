# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The deployment benchmark's markdown: ONNX export parity and latency of
PyTorch eager against onnxruntime, and the targets.
"""
from bench.deploy.arms import MODELS, TEACHERS
from bench.lib import common


def report(res: dict) -> str:
    info = res['machine']
    lines = [
        '### Deployment: ONNX parity and CPU latency',
        '',
        f'Machine: {common.machine_line(info)}; 1-min load average at the '
        f'end {res["loadavg_end"]}. onnxruntime {res["onnxruntime"]}, '
        f'onnx {res["onnx"]}; exporter `{res["exporter"]}` (opset '
        f'{res["opset"]}). Batch 1; median of {res["args"]["runs"]} '
        f'round-robin runs after {res["args"]["warmup"]} warm-up rounds; '
        'ms per image including normalisation and the resize of the logits '
        'to the input size. Models: demo DeepLabV3+ w16 (11 classes), '
        'random weights (latency does not depend on them). Code: commit '
        f'{res["code"]["commit"]}, axial block sources sha1 '
        f'{res["code"]["axial_attention_sha1"]}'
        + (' (uncommitted changes)' if res['code'][
            'axial_attention_uncommitted'] else '') + '.',
        '',
    ]
    threads = res['args']['threads']
    headers = ['model', 'input WxH']
    for t in threads:
        headers += [f'torch ms ({t}T)', f'ORT ms ({t}T)',
                    f'ORT/torch ({t}T)']
    headers += ['max abs diff (max abs logit)', 'equal labels', 'parity']
    rows = []
    for size in res['sizes']:
        for name in MODELS:
            row = [name, f'{size[1]}x{size[0]}']
            for t in threads:
                lat = res['latency'][f'{t}'][f'{size[1]}x{size[0]}']
                pt = lat[name]['torch']['median_ms']
                ox = lat[name]['onnxruntime']['median_ms']
                row += [f'{pt:.1f}', f'{ox:.1f}', f'{ox / pt:.2f}']
            exp = res['exports'][f'{name} {size[1]}x{size[0]}']
            row += [f'{exp["max_abs_diff"]:.1e} '
                    f'({exp.get("max_abs_logit", float("nan")):.2g})',
                    f'{100 * exp["worst_agreement"]:.3f}%',
                    'met' if exp['parity'] else 'MISSED']
            rows.append(row)
    lines.append(common.md_table(headers, rows))
    lines += ['', 'Axial teacher output over its student (teacher output / '
              'SD student output - 1, medians):', '']
    rows = []
    for size in res['sizes']:
        for t in threads:
            o = res['overhead'][f'{t}'][f'{size[1]}x{size[0]}']
            row = [f'{size[1]}x{size[0]}', t]
            for teacher in TEACHERS:
                row += [f'{100 * o[teacher]["torch"]:+.0f}%',
                        f'{100 * o[teacher]["onnxruntime"]:+.0f}%']
            rows.append(row)
    lines.append(common.md_table(
        ['input WxH', 'threads', 'torch eager', 'onnxruntime',
         'torch eager (stride 2)', 'onnxruntime (stride 2)'], rows))
    cores = info.get('cores') or 2
    load = max(info.get('loadavg_1m') or 0, res['loadavg_end'])
    if load > cores:
        lines += ['', f'Note: the 1-min load average reached {load} on '
                  f'{cores} cores during this run (other jobs on the shared '
                  'machine). PyTorch\'s OpenMP threads busy-wait for each '
                  'other, so with every core contended its 2-thread times '
                  'are several times its 1-thread times; onnxruntime '
                  'suffers less. The 1-thread columns are the comparable '
                  'ones here; re-run on a quiet machine for 2 threads.']
    lines += ['', 'Targets:', '']
    lines += [f'* {t}' for t in res['targets']]
    return '\n'.join(lines)


def targets(res: dict) -> list:
    out = []
    bad = [k for k, v in res['exports'].items() if not v['parity']]
    out.append('parity (max |delta logit| <= 1e-3 and >= 99.99% equal labels '
               'on every demo image) for every model and size: ' +
               ('met' if not bad else f'MISSED for {", ".join(bad)}'))
    slower = []
    for t, by_size in res['latency'].items():
        for size, by_model in by_size.items():
            for name, lat in by_model.items():
                if lat['onnxruntime']['median_ms'] > lat['torch']['median_ms']:
                    slower.append(f'{name} {size} {t}T')
    out.append('onnxruntime latency <= PyTorch eager for every model, size '
               'and thread count: ' + ('met' if not slower else
                                        f'missed for {", ".join(slower)}'))
    big = f'{res["sizes"][-1][1]}x{res["sizes"][-1][0]}'
    for t in res['args']['threads']:
        o = res['overhead'][f'{t}'][big]
        main = o['SD teacher output']['onnxruntime']
        s2 = o['SD teacher output, stride 2']['onnxruntime']
        out.append(f'teacher-output overhead over its student in onnxruntime '
                   f'at {big}, {t} thread(s): {100 * main:+.0f}% (target <= '
                   f'+25%: {"met" if main <= 0.25 else "missed"}); with '
                   f'the axial block at stride 2: {100 * s2:+.0f}%')
    return out
