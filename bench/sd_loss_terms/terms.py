# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""The axial-SD loss terms of finished runs, read from MMEngine's logged
scalars: the first and the last tenth of each run.
"""
import glob
import json
import os.path as osp
import re
import statistics
from typing import Dict, Optional

from bench.lib import runs


#: Logged keys: student decode-head CE, teacher-output CE and the
#: consistency term (the distiller's ``mse`` loss, logged under that name
#: whichever loss it is: the MSE of probabilities or the tempered KL).
TERMS = dict(student_ce='student.decode.loss_ce',
             teacher_ce='distill.loss_teacher_ce',
             mse='distill.loss_sd_mse')


FRACTION = 0.1


def run_terms(work_dir: str) -> Optional[Dict[str, object]]:
    """Mean of each SD loss term over the first and the last tenth.

    A resumed run logs the iterations after its last checkpoint again; the
    later invocation's values are kept (the final weights come from them).

    Returns:
        dict | None: ``iters`` (the last logged iteration) and, per term,
        ``{'first': mean, 'last': mean}`` over the first and the last tenth
        of the logged steps (at least one); None when the run logged no SD
        MSE.
    """
    by_iter = {
        int(rec['iter']): rec
        for rec in runs.scalar_records(work_dir)
        if TERMS['mse'] in rec and 'iter' in rec
    }
    if not by_iter:
        return None
    logged = sorted(by_iter)
    n = max(1, round(FRACTION * len(logged)))  # at least one logged step
    out: Dict[str, object] = dict(iters=logged[-1])
    for name, key in TERMS.items():
        out[name] = {
            w: statistics.fmean(float(by_iter[i][key]) for i in its)
            for w, its in (('first', logged[:n]), ('last', logged[-n:]))
        }
    return out


def consistency_loss(work_dir: str) -> str:
    """The consistency loss a run trained with, from its ``config.py``:
    ``'MSE'`` (the axial distillers' default), ``'KL (tau 2.0)'``, or
    ``'unknown'`` when the folder holds no readable config.
    """
    from mmengine.config import Config
    path = osp.join(work_dir, 'config.py')
    if not osp.isfile(path):
        return 'unknown'
    try:  # the run's own dump: no plugin import needed to read it
        cfg = Config.fromfile(path, import_custom_modules=False)
    except Exception:  # noqa: BLE001 - a report must not die on one file
        return 'unknown'
    loss = ((cfg.get('model') or {}).get('distiller') or {}).get('mse')
    loss_type = str((loss or {}).get('type', 'SelfDistillMSELoss'))
    if loss_type.endswith('KLLoss'):
        return f'KL (tau {loss.get("tau", 1.0)})'
    if loss_type.endswith('MSELoss'):
        return 'MSE'
    return loss_type


def arm_of(run_name: str) -> str:
    """``unet_sd_seed1`` -> ``unet_sd``."""
    return re.sub(r'_seed\d+$', '', run_name)


def collect(work_root: str,
            records: Optional[Dict[str, dict]] = None
            ) -> Dict[str, Dict[str, object]]:
    """``{run name: run_terms + commits}`` of every finished run under
    ``work_root`` with SD terms, in name order.

    A run is finished when its folder has a ``result.json`` (the first
    CamVid protocol, ssTEM), or a ``test_metrics.json`` and an entry in
    ``records`` (``{run name: record}`` of a study that keeps its records
    in one JSON, the CamVid v2 study), which gives its commit.
    """
    found = {}
    for run_dir in sorted(glob.glob(osp.join(work_root, '*', ''))):
        name = osp.basename(osp.dirname(run_dir))
        path = osp.join(run_dir, 'result.json')
        if osp.isfile(path):
            with open(path) as f:
                result = json.load(f)
        elif (records or {}).get(name) and osp.isfile(
                osp.join(run_dir, 'test_metrics.json')):
            result = records[name]
        else:
            continue
        terms = run_terms(run_dir)
        if terms is None:
            continue
        # the protocols record one commit or one per invocation
        terms['commits'] = result.get('commits') or [result.get('commit')]
        terms['consistency'] = consistency_loss(run_dir)
        found[name] = terms
    return found
