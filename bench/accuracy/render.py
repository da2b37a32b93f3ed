# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The CamVid protocol's markdown: the report and the generated section of
each method's README (``camvid_<method>_<protocol>``).
"""
import os.path as osp
from typing import Dict, List, Optional

from bench.accuracy import arms
from bench.accuracy.records import (by_arm, choose_on_val, missing_runs,
                                    total_hours, with_machines, with_outputs)
from bench.accuracy.tables import ablation_table, main_table, one_seed_lines
from bench.accuracy.targets import TARGET_GROUPS, target_lines
from bench.lib import common
from bench.lib.readme import update_readme


def settings_line(results: List[dict], meta: Dict) -> str:
    """The AttnFD/SD settings of the main arms. While a ``--choose-on-val``
    invocation has not yet recorded its choice, the settings in its meta are
    placeholders: the line names the choice the finished ablation makes."""
    if meta.get('chosen') or '--choose-on-val' not in meta.get('argv', []):
        return (f'AttnFD settings of the main arms: `{meta["attnfd"]}`; '
                f'axial SD: `{meta["sd"]}`'
                + (' (chosen on val from the ablation).'
                   if meta.get('chosen') else '.'))
    proto = meta.get('proto', {})
    if missing_runs(arms.ablation_names(proto.get('grid', 'full')),
                    proto.get('ablation_seeds', []), results):
        return ('AttnFD and axial-SD settings of the main arms: chosen on '
                'val when the ablation has finished.')
    chosen = choose_on_val(results)
    sd = dict(chosen['sd'], detach_input=False)
    return (f'AttnFD settings of the main arms: `{chosen["attnfd"]}`; axial '
            f'SD: `{sd}` (the ablation\'s choice on val; the protocol '
            'records it when its chosen arms start).')


def _machines_line(results: List[dict]) -> List[str]:
    counts: Dict[str, int] = {}
    for r in results:
        if r.get('timed_on'):
            counts[r['timed_on']] = counts.get(r['timed_on'], 0) + 1
    if not counts:
        return []
    where = '; '.join(f'{cpu} ({n} runs)' for cpu, n in counts.items())
    return [f'Runs timed on: {where}. Seconds of different CPUs are not '
            'comparable: a training-time ratio uses the seeds whose two '
            'runs were timed on one CPU where any exist, else student '
            'steps (a run\'s seconds over the median s/iteration of the '
            'plain student, baseline and baseline_2x, on the CPU that timed '
            'it; also the last column and the x axis of the time plot).', '']


def _setup_text(meta: Dict) -> str:
    """The protocol in one paragraph: data, schedule, models, pairing."""
    proto = meta['proto']
    h, w = proto['crop']
    s, t = proto['student'], proto['teacher']
    return (
        f'CamVid SegNet split at {w}x{h}: train 367, choice on val 101, '
        f'report on test 233 (final checkpoint of every run, once). Batch '
        f'{proto["batch"]}, SGD lr {proto["lr"]}, poly, from scratch. '
        f'Student DeepLabV3+ ResNetV1c-18 layout width {s["width"]} OS'
        f'{s["output_stride"]}; teacher width {t["width"]} OS'
        f'{t["output_stride"]}, {meta["teacher_iters"]} iterations; students '
        f'{meta["iters"]} iterations. Paired seeds: for seed k every arm '
        'starts from the same student weights and data order. mIoU in %, '
        'mean +- std over seeds; paired differences with a 95% t-interval.')


def _commits(results: List[dict]) -> str:
    return ", ".join(sorted({r.get("commit", "?") for r in results}))


def _ablation_lines(table: Dict[str, Dict[int, dict]], meta: Dict,
                    method: str) -> List[str]:
    """The val-based ablation of ``method`` ('attnfd' or 'sd'), if run."""
    chosen = (meta.get('chosen') or {}).get(method)
    if method == 'attnfd':
        grid = list(arms.attnfd_grid().values())
        title, namer = 'AttnFD', arms.attnfd_name
    else:
        grid, title, namer = arms.sd_ablation(), 'Axial-SD', arms.sd_name
    if not any(a in table for a in map(namer, grid)):
        return []
    return [f'#### {title} ablation (choice by mean final val mIoU)', '',
            ablation_table(table, grid, namer, chosen, meta[method], method),
            '']


def _extra_text(meta: Dict) -> str:
    return ''.join(
        f' Extra arms: `python bench/accuracy/run.py {" ".join(e["argv"])}` '
        f'(last invoked for {e["wall_h"]:.2f} h).'
        for e in meta.get('extra_invocations', []))


def render(results: List[dict], meta: Dict,
           machines: Optional[Dict[str, str]] = None) -> str:
    """The markdown report; ``machines`` (run -> CPU, see
    :func:`record_machines`) marks which CPU timed each run."""
    results = with_machines(results, machines)
    table = by_arm(results)
    order = ['teacher'] + with_outputs(arms.MAIN_ARMS) + list(
        arms.EXTRA_ARMS)
    lines = [
        f'### CamVid accuracy v2, {meta["protocol"]} protocol', '',
        f'Commit(s): {_commits(results)}. '
        f'Command: `python bench/accuracy/run.py {" ".join(meta["argv"])}`, '
        f'last invoked on {common.machine_line(meta["machine"])} for '
        f'{meta["wall_h"]:.2f} h; '
        f'training time of all runs listed: {total_hours(results):.2f} h '
        '(median s/iteration x iterations).' + _extra_text(meta), '',
        _setup_text(meta), ''] + _machines_line(results) + [
        settings_line(results, meta), '',
        main_table(table, order), ''
    ] + one_seed_lines(table, order)
    targets = target_lines(table, meta['iters'], meta)
    if targets:
        lines += ['Targets (test mIoU, final checkpoints; never tuned on '
                  'test):', ''] + [f'* {x}' for x in targets] + ['']
    lines += _ablation_lines(table, meta, 'attnfd')
    lines += _ablation_lines(table, meta, 'sd')
    return '\n'.join(lines)


#: The CamVid evidence of each method, generated into its README as the
#: section ``camvid_<method>_<protocol>``: README (from the repository
#: root), arms of its table, its target groups and its ablation.
METHOD_SECTIONS = {
    'attnfd': ('configs/attnfd/README.md',
               ['teacher', 'baseline', 'baseline_2x', 'kd', 'cwd',
                'attnfd'], ('protocol', 'attnfd'), 'attnfd'),
    'axial_sd': ('configs/axial_sd/README.md',
                 ['baseline', 'baseline_2x', 'ce2'] + with_outputs(
                     ['sd', 'sd_detach']), ('sd', ), 'sd'),
    'attnfd_axial_sd': ('configs/attnfd_axial_sd/README.md',
                        ['teacher', 'baseline', 'baseline_2x', 'attnfd'] +
                        with_outputs(['sd', 'attnfd_sd']), (), None),
    'summary': ('README.md',
                ['teacher', 'baseline', 'baseline_2x', 'ce2', 'kd', 'cwd',
                 'attnfd'] + with_outputs(['sd']), TARGET_GROUPS, None),
    'feature_kd': ('configs/feature_kd/README.md',
                   ['teacher', 'baseline', 'baseline_2x', 'kd', 'cwd',
                    'attnfd'] + list(arms.EXTRA_ARMS), (), None),
}


def method_section(results: List[dict], meta: Dict, method: str,
                   machines: Optional[Dict[str, str]] = None) -> str:
    """The rows, targets and ablation of one method (a key of
    :data:`METHOD_SECTIONS`) for its README; the whole report is
    ``bench/results/accuracy_<protocol>.md``."""
    readme, order, groups, ablation = METHOD_SECTIONS[method]
    results = with_machines(results, machines)
    table = by_arm(results)
    name = f'accuracy_{meta["protocol"]}'
    link = osp.relpath(f'bench/results/{name}.md', osp.dirname(readme))
    lines = [
        f'Generated from `bench/results/{name}.json` by `python '
        f'bench/accuracy/run.py --protocol {meta["protocol"]} --report-only` '
        f'(runs made at commit(s) {_commits(results)}; the whole report, '
        f'the curves and the other arms are in [bench/results/{name}.md]'
        f'({link})). {_setup_text(meta)}', '',
        settings_line(results, meta), '',
        main_table(table, order), ''] + one_seed_lines(table, order)
    targets = target_lines(table, meta['iters'], meta, groups)
    if targets:
        lines += ['Targets (test mIoU, final checkpoints; never tuned on '
                  'test):', ''] + [f'* {x}' for x in targets] + ['']
    if ablation:
        lines += _ablation_lines(table, meta, ablation)
    return '\n'.join(lines)


def write_method_sections(results: List[dict], meta: Dict,
                          machines: Optional[Dict[str, str]] = None,
                          root: str = common.REPO_ROOT) -> List[str]:
    """Rewrite the section ``camvid_<method>_<protocol>`` of every method
    README that has one.

    Returns:
        list[str]: The READMEs that were rewritten.
    """
    done = []
    for method, (readme, *_) in METHOD_SECTIONS.items():
        path = osp.join(root, readme)
        text = method_section(results, meta, method, machines)
        if update_readme(f'camvid_{method}_{meta["protocol"]}', text, path):
            done.append(readme)
    return done
