# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Results of a released model, measured on the released file.

A metafile's ``Results`` are written only here: the released checkpoint
is loaded with its released config and scored by MMSeg's test loop (the
config's ``test_dataloader``/``test_evaluator``, i.e. the test split), and
the metrics go into the entry. No number is typed by hand. Command-line
only (``tools/misc/zoo_results.py``).
"""
import os.path as osp
import tempfile
from typing import Dict, Optional

from .model_zoo import dump_metafile, load_metafile

__all__ = ['METRICS', 'test_checkpoint', 'record_results']

#: Metrics copied from MMSeg's ``IoUMetric`` into the metafile.
METRICS = ('mIoU', 'mAcc', 'aAcc')


def test_checkpoint(config: str, checkpoint: str,
                    cfg_options: Optional[dict] = None,
                    work_dir: Optional[str] = None) -> Dict[str, float]:
    """MMSeg's test loop on ``checkpoint`` with ``config``; its metrics."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    from ..utils import adapt_cfg_to_environment, skip_fitted_attention
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.load_from = checkpoint
    if isinstance(cfg.get('model'), dict):
        skip_fitted_attention(cfg.model.get('distiller'))
    adapt_cfg_to_environment(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        cfg.work_dir = work_dir or tmp
        # a name of its own: MMEngine reuses a same-named visualizer
        cfg.setdefault('visualizer', dict(type='SegLocalVisualizer'))
        cfg.visualizer['name'] = f'zoo_results_{osp.basename(checkpoint)}'
        metrics = Runner.from_cfg(cfg).test()
    return {k: float(v) for k, v in metrics.items()}


def record_results(metafile: str, name: str,
                   metrics: Dict[str, float]) -> dict:
    """Write ``metrics`` (:data:`METRICS`, 2 decimals) as the first
    ``Results`` entry of model ``name`` in ``metafile``; return it."""
    data = load_metafile(metafile)
    for model in data['Models']:
        if model.get('Name') == name:
            results = model.setdefault('Results', [{}]) or [{}]
            model['Results'] = results
            first = results[0]
            first.setdefault('Task', 'Semantic Segmentation')
            first['Metrics'] = {k: round(metrics[k], 2) for k in METRICS
                                if k in metrics}
            dump_metafile(data, metafile)
            return model
    raise ValueError(f'{metafile} has no model named {name!r}.')
