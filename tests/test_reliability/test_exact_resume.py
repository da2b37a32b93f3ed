# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""A distillation killed with SIGKILL and resumed ends bit-identical to a
clean run: AttnFD and axial self-distillation."""
import pytest

from _reliability_helpers import (attnfd_cfg, axial_cfg,
                                  kill_and_resume_matches_uninterrupted)

pytestmark = pytest.mark.slow

#: method: (config, checkpoint prefixes both runs must hold, keys the
#: checkpoint must hold)
CASES = {
    # student CBAM + alignment and the frozen teacher CBAM of each stage
    'attnfd': (attnfd_cfg, ('architecture.', 'distiller.connectors.'), [
        key for i in range(3) for key in (
            f'distiller.connectors.attnfd_{i}_student.cbam.'
            'channel_mlp.0.weight',
            f'distiller.connectors.attnfd_{i}_teacher.cbam.'
            'spatial_conv.weight')
    ]),
    # the relative-position tables of both axial passes are checkpointed
    'axial_sd': (axial_cfg, ('architecture.', 'distiller.connectors.axial.'),
                 [f'distiller.connectors.axial.axial.{axis}.rel_q'
                  for axis in ('attn_h', 'attn_w')]),
}


@pytest.mark.parametrize('method', list(CASES))
def test_sigkill_resume_is_exact(method, tmp_path, synthetic_data,
                                 subprocess_env, repo_root):
    make_cfg, prefixes, expected_keys = CASES[method]
    straight, _ = kill_and_resume_matches_uninterrupted(
        make_cfg, tmp_path, synthetic_data, subprocess_env, repo_root,
        required_prefixes=prefixes)
    keys = straight['state_dict']
    for key in expected_keys:
        assert key in keys
