# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""tools/misc/zoo_results.py: metafile Results measured on the released
file, re-checked end to end with ``init_model`` and MMSeg's evaluator."""
import os.path as osp
import shutil

import pytest
import yaml

from _tools_helpers import load_tool

pytestmark = pytest.mark.slow


@pytest.fixture
def released(tmp_path, cwd_run):
    """A repository whose zoo/ folder holds the released student of a
    trained run and whose metafile names it (no Results yet)."""
    root = tmp_path / 'repo'
    (root / 'configs' / 'camvid').mkdir(parents=True)
    cfg = root / 'configs' / 'camvid' / 'student_tiny.py'
    shutil.copyfile(cwd_run['student_cfg'], cfg)
    res = load_tool('publish_model.py').main(
        [cwd_run['ckpt'], str(root / 'zoo'), '--config', str(cfg),
         '--student-only', '--no-metafile'])
    weights = osp.relpath(res['path'], str(root))
    metafile = root / 'configs' / 'camvid' / 'metafile.yml'
    metafile.write_text(yaml.safe_dump(dict(Models=[dict(
        Name='student_tiny', Config='configs/camvid/student_tiny.py',
        Weights=weights, Results=[dict(Task='Semantic Segmentation',
                                       Dataset='synthetic')])])))
    return dict(root=root, cfg=str(cfg), metafile=metafile,
                ckpt=res['path'])


def _independent_miou(config, checkpoint):
    """init_model + the config's test dataloader and IoUMetric."""
    from mmengine.config import Config
    from mmengine.evaluator import Evaluator
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmseg.apis import init_model
    from mmseg.registry import METRICS
    cfg = Config.fromfile(config)
    model = init_model(cfg, checkpoint, device='cpu')
    init_default_scope('mmseg')
    loader = Runner.build_dataloader(cfg.test_dataloader)
    evaluator = Evaluator(METRICS.build(cfg.test_evaluator))
    evaluator.dataset_meta = loader.dataset.metainfo
    for batch in loader:
        evaluator.process(model.test_step(batch), batch)
    return evaluator.evaluate(len(loader.dataset))['mIoU']


def test_results_are_measured_on_the_released_file(released, tmp_path,
                                                   capsys):
    tool = load_tool('misc/zoo_results.py')
    configs = str(released['root'] / 'configs')
    assert tool.main(['student_tiny', '--configs-dir', configs,
                      '--checkpoint-dir', str(tmp_path / 'ckpt')]) == 0
    entry = yaml.safe_load(released['metafile'].read_text())['Models'][0]
    metrics = entry['Results'][0]['Metrics']
    assert set(metrics) == {'mIoU', 'mAcc', 'aAcc'}
    assert entry['Results'][0]['Dataset'] == 'synthetic'  # kept
    assert f"student_tiny: {metrics}" in capsys.readouterr().out
    # the downloaded (hash-checked) file is the released one, and plain
    # MMSeg on it reproduces the recorded number
    got = _independent_miou(released['cfg'], released['ckpt'])
    assert abs(got - metrics['mIoU']) <= 0.01
    assert tool.main(['nothing_here', '--configs-dir', configs]) == 1
    assert 'no released model named' in capsys.readouterr().err
