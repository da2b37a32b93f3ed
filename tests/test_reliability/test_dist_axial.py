# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""tools/dist_train.sh CONFIG 2 runs axial self-distillation on CPU."""
import pytest
import torch

from _reliability_helpers import axial_cfg, dist_train_and_compare_ranks

pytestmark = [pytest.mark.dist, pytest.mark.slow]


def test_axial_sd_two_processes(tmp_path, synthetic_data, subprocess_env,
                                repo_root):
    cfg = axial_cfg(synthetic_data, str(tmp_path / 'work'), max_iters=2,
                    ckpt_interval=2, batch_size=2)
    log, states = dist_train_and_compare_ranks(cfg, tmp_path,
                                               subprocess_env, repo_root)
    assert 'Iter(train) [2/2]' in log
    assert 'distill.loss_teacher_ce' in log and 'distill.loss_sd_mse' in log
    r0, _ = states[2]
    first, _ = states[1]
    axial = [k for k in r0 if k.startswith('distiller.connectors.axial.')]
    assert any(k.endswith('rel_q') for k in axial)
    # the zero-initialised projection has learned something by step 2
    assert any(not torch.equal(r0[k], first[k]) for k in axial)
