# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""One run in its own process: train (resuming), evaluate both outputs in
both inference modes on val and test, check the export, write
``result.json``.
"""
import copy
import glob
import json
import os.path as osp
import time
from typing import Optional

from bench.lib import common, runs
from bench.sstem.arms import INFERENCE_MODES, TEACHER_KEY
from bench.sstem.paired import paired_init_hook, student_of


def read_curves(work_dir: str) -> dict:
    """Val mIoU of both outputs per iteration, median s/iter and the
    logged training seconds of every segment of a resumed run (logs)."""
    scalars = runs.read_scalars(work_dir)
    return dict(val_student=scalars['val'],
                val_teacher=scalars.get('teacher_output_val', {}),
                sec_per_iter=scalars['sec_per_iter'],
                train_logged_s=max(scalars['train_seconds'].values(),
                                   default=0.0),
                diverged=scalars.get('diverged', False),
                loss_last=scalars.get('loss_last'))


def _evaluate(model, cfg, split: str, mode: Optional[str] = None) -> dict:
    """Both outputs of ``model`` on ``split`` ('val'/'test') without hooks.

    ``mode`` ('slide'/'whole') overrides the segmentor's ``test_cfg`` for
    this evaluation only.
    """
    from mmengine.evaluator import Evaluator
    from mmengine.runner import Runner

    from mmseg_attnkd.engine import evaluate_outputs
    loader = Runner.build_dataloader(copy.deepcopy(cfg[f'{split}_dataloader']))
    evaluator = Evaluator(copy.deepcopy(cfg[f'{split}_evaluator']))
    evaluator.dataset_meta = loader.dataset.metainfo
    student = student_of(model)
    saved = student.test_cfg
    if mode is not None and mode != saved.get('mode'):
        from mmengine.config import ConfigDict
        student.test_cfg = ConfigDict(mode=mode)
    try:
        metrics = evaluate_outputs(model, loader, evaluator)
    finally:
        student.test_cfg = saved
    return {k: float(v) for k, v in metrics.items()
            if k.endswith(('mIoU', 'mDice', 'aAcc'))}


def _load_weights(model, ckpt: str) -> None:
    from mmengine.runner import load_checkpoint
    load_checkpoint(model, ckpt, map_location='cpu', strict=True,
                    logger='silent')


def worker(work_dir: str) -> dict:
    """Train one run (resuming), evaluate it, write ``result.json``."""
    import torch
    with open(osp.join(work_dir, 'spec.json')) as f:
        spec = json.load(f)
    # every commit and command that trained a segment of this run (a resume
    # may come from a later one; the digest covers the config, not the code)
    pending = spec.pop('pending', None) or {}
    spec.setdefault('commits', [])
    spec.setdefault('commands', [])
    if pending.get('commit') and pending['commit'] not in spec['commits']:
        spec['commits'].append(pending['commit'])
    if pending.get('command'):
        spec['commands'].append(pending['command'])
    common.write_text(osp.join(work_dir, 'spec.json'),
                      json.dumps(spec, indent=1))
    torch.set_num_threads(spec['threads'])
    import mmseg_attnkd  # noqa: F401
    from mmengine.config import Config
    from mmengine.runner import Runner

    from mmseg_attnkd.utils import adapt_cfg_to_environment
    cfg_path = osp.join(work_dir, 'config.py')
    cfg = Config.fromfile(cfg_path)
    adapt_cfg_to_environment(cfg)
    start = time.time()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(paired_init_hook(
        spec['init'], spec['seed'], osp.join(work_dir, 'init_student.sha256')))
    runner.train()
    train_wall = time.time() - start
    model = runner.model
    device = next(model.parameters()).device
    final = runs.last_checkpoint(work_dir)
    out = dict(spec, train_wall_s=train_wall, checkpoint=final)
    out.update(read_curves(work_dir))
    with open(osp.join(work_dir, 'init_student.sha256')) as f:
        out['init_student_sha256'] = f.read().strip()

    # inference both ways on val (final weights): the study's evidence for
    # the sliding-window test_cfg of the configs
    start = time.time()
    out['val_final'] = {mode: _evaluate(model, cfg, 'val', mode)
                        for mode in INFERENCE_MODES}
    # test once per inference mode, at the checkpoint chosen on val; the
    # report uses the mode that val prefers (see inference_mode)
    out['test_by_mode'] = {mode: {} for mode in INFERENCE_MODES}
    if spec['select'] == 'final':
        for mode in INFERENCE_MODES:
            out['test_by_mode'][mode] = _evaluate(model, cfg, 'test', mode)
        out['test_checkpoints'] = dict(student=final, teacher=final)
    else:
        out['test_checkpoints'] = {}
        keys = [('student', 'mIoU')]
        if spec['arm'] == 'sd':
            keys.append(('teacher', TEACHER_KEY))
        for output, key in keys:
            best = sorted(glob.glob(osp.join(work_dir, f'best_{key}_*.pth')))
            ckpt = best[-1] if best else final
            _load_weights(model, ckpt)
            out['test_checkpoints'][output] = ckpt
            for mode in INFERENCE_MODES:
                metrics = _evaluate(model, cfg, 'test', mode)
                out['test_by_mode'][mode].update(
                    {k: v for k, v in metrics.items()
                     if k.startswith('teacher_output.') == (
                         output == 'teacher')})
    # the models' own test_cfg (sliding window): what the export must equal
    out['test'] = out['test_by_mode']['slide']
    reads_features = cfg.model.get('distiller', {}).get(
        'axial_input', 'logits') != 'logits'
    if spec['arm'] == 'sd' and reads_features:
        # AxialRefineHead cannot feed the block the decoder features
        out['test_export_skipped'] = 'axial_input reads decoder features'
    elif spec['arm'] == 'sd':
        # the exported AxialRefineHead model must give the same test score
        from mmseg.apis import init_model

        from mmseg_attnkd.utils import export_axial_refine
        ckpt = out['test_checkpoints']['teacher']
        e_ckpt, e_cfg = export_axial_refine(
            cfg_path, ckpt, osp.join(work_dir, 'export', 'teacher_output.pth'))
        exported = init_model(e_cfg, e_ckpt, device=str(device))
        metrics = _evaluate(exported, cfg, 'test')
        out['test_export_teacher_mIoU'] = metrics['mIoU']
    out['eval_wall_s'] = time.time() - start
    out['device'] = str(device)
    common.write_json(osp.join(work_dir, 'result.json'), out)
    return out
