# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""bench/camvid/timing.py: arms built from their configs, steps timed with
data loading, ratios to the baseline."""
import json

import pytest

from bench.camvid import timing


def test_summary_ratios_are_per_round():
    out = timing.summarize(dict(baseline=[1.0, 2.0, 4.0],
                                sd=[1.5, 3.0, 6.0]))
    assert out['sd']['ratio']['median'] == pytest.approx(1.5)
    assert out['sd']['ratio']['low'] == pytest.approx(1.5)
    assert out['baseline']['step_s']['median'] == 2.0


def test_missing_data_root_is_one_line(tmp_path):
    with pytest.raises(SystemExit, match='has no img_dir/train; convert'):
        timing.main(['--data-root', str(tmp_path)])


@pytest.mark.slow
def test_tiny_pass_on_the_demo_frames(tmp_path, restore_threads_and_logger):
    data = timing.main(['--data-root', 'demo/camvid_mini', '--arms',
                        'baseline', 'sd', '--rounds', '1', '--steps', '1',
                        '--threads', '1', '--out-dir', str(tmp_path)])
    assert set(data['arms']) == {'baseline', 'sd'}
    saved = json.loads((tmp_path / 'camvid_steptimes_cpu.json').read_text())
    assert saved['arms']['baseline']['ratio']['median'] == 1.0
    assert saved['arms']['sd']['step_s']['median'] > 0
    assert '| sd |' in (tmp_path / 'camvid_steptimes_cpu.md').read_text()


@pytest.mark.slow
def test_every_v2_arm_builds_and_steps():
    """The v2 candidates are their base config plus overrides, and each
    builds and trains one step on the demo frames."""
    from bench.camvid.arms import V2_ARMS, arm_config
    for arm, (base, options) in V2_ARMS.items():
        cfg = arm_config(timing.REPO, arm)
        for key, value in options.items():
            node = cfg
            for part in key.split('.'):
                node = node[part]
            assert node == value, (arm, key)
        timed = timing.TimedArm(arm, 'demo/camvid_mini')
        assert timed.steps(1) > 0
    with pytest.raises(KeyError, match='unknown arm'):
        arm_config(timing.REPO, 'nothing')
