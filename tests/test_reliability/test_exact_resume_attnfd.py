# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""AttnFD killed with SIGKILL and resumed ends bit-identical to a clean run."""
import pytest

from _reliability_helpers import (attnfd_cfg,
                                  kill_and_resume_matches_uninterrupted)

pytestmark = pytest.mark.slow


def test_attnfd_sigkill_resume_is_exact(tmp_path, synthetic_data,
                                        subprocess_env, repo_root):
    straight, _ = kill_and_resume_matches_uninterrupted(
        attnfd_cfg, tmp_path, synthetic_data, subprocess_env, repo_root,
        required_prefixes=('architecture.', 'distiller.connectors.'))
    keys = straight['state_dict']
    # student CBAM + alignment and the frozen teacher CBAM of each stage
    for i in range(3):
        assert f'distiller.connectors.attnfd_{i}_student.cbam.' \
            'channel_mlp.0.weight' in keys
        assert f'distiller.connectors.attnfd_{i}_teacher.cbam.' \
            'spatial_conv.weight' in keys
