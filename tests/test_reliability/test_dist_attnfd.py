# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""tools/dist_train.sh CONFIG 2 runs AttnFD on CPU (gloo), SyncBN config."""
import pytest
import torch

from _reliability_helpers import attnfd_cfg, dist_train_and_compare_ranks

pytestmark = [pytest.mark.dist, pytest.mark.slow]


def test_attnfd_two_processes_syncbn_config(tmp_path, synthetic_data,
                                            subprocess_env, repo_root):
    cfg = attnfd_cfg(synthetic_data, str(tmp_path / 'work'), max_iters=2,
                     ckpt_interval=2, norm='SyncBN', batch_size=2)
    log, states = dist_train_and_compare_ranks(cfg, tmp_path,
                                               subprocess_env, repo_root)
    # SyncBN has no CPU kernel: tools/train.py switched it to BN and said so
    assert 'SyncBN has no CPU implementation' in log
    assert 'model.architecture.backbone.norm_cfg (SyncBN)' in log
    assert 'Iter(train) [2/2]' in log
    assert 'distill.loss_attnfd_2' in log
    r0, _ = states[2]
    first, _ = states[1]
    # student connectors exist, are trained (moved between the steps) and
    # are equal on both ranks (checked by the helper)
    conn = [k for k in r0 if k.startswith('distiller.connectors.')
            and '_student.' in k and k.endswith('weight')]
    assert len(conn) >= 9
    assert any(not torch.equal(r0[k], first[k]) for k in conn)
