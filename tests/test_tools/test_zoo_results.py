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


CAMVID = osp.join(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))), '..', 'shared', 'data', 'camvid_segnet')


@pytest.mark.skipif(not osp.isdir(CAMVID),
                    reason='CamVid SegNet is not in ../shared/data')
def test_a_released_model_reproduces_its_metafile_number(tmp_path):
    """The smallest released CamVid 240x180 model, fetched through the
    hash check, scored by plain MMSeg (init_model + the config's test
    loader and IoUMetric) on the converted test split: its metafile mIoU
    within 0.01."""
    from mmengine.config import Config
    from mmseg_attnkd.release import download, model_zoo
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    configs = osp.join(repo, 'configs')
    models = [m for m in model_zoo.load_metafile(
        osp.join(configs, 'camvid240', 'metafile.yml'))['Models']
        if model_zoo.is_released(m)]
    assert models, 'configs/camvid240/metafile.yml releases no model'
    model = min(models, key=lambda m: osp.getsize(osp.join(
        repo, m['Weights'])))
    data = tmp_path / 'camvid240'
    # the converter's command in this process (no second interpreter to
    # start); a bad input would end it with SystemExit
    load_tool('dataset_converters/camvid.py').main([
        '--data-root', CAMVID, '--out-dir', str(data), '--splits', 'test',
        '--scale', '0.5'])
    ckpt = download.download_checkpoint(
        download.model_url(model['Name'], configs), str(tmp_path / 'dl'))
    cfg = Config.fromfile(osp.join(repo, model['Config']))
    cfg.test_dataloader.dataset.data_root = str(data)
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    path = str(tmp_path / 'config.py')
    cfg.dump(path)
    got = _independent_miou(path, ckpt)
    want = model['Results'][0]['Metrics']['mIoU']
    assert abs(got - want) <= 0.01 + 1e-6, (model['Name'], got, want)
