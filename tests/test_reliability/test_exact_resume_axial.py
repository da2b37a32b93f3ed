# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Axial self-distillation killed and resumed equals an uninterrupted run."""
import pytest

from _reliability_helpers import (axial_cfg,
                                  kill_and_resume_matches_uninterrupted)

pytestmark = pytest.mark.slow


def test_axial_sd_sigkill_resume_is_exact(tmp_path, synthetic_data,
                                          subprocess_env, repo_root):
    straight, _ = kill_and_resume_matches_uninterrupted(
        axial_cfg, tmp_path, synthetic_data, subprocess_env, repo_root,
        required_prefixes=('architecture.', 'distiller.connectors.axial.'))
    keys = straight['state_dict']
    # the relative-position tables of both axial passes are checkpointed
    for axis in ('attn_h', 'attn_w'):
        assert f'distiller.connectors.axial.axial.{axis}.rel_q' in keys
