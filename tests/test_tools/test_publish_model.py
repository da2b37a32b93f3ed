# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""tools/publish_model.py and tools/misc/gen_model_zoo_table.py."""
import hashlib
import os.path as osp
import re
import shutil

import pytest
import yaml

from mmseg_attnkd.utils import (compare_keys, get_state_dict,
                                load_checkpoint_safely)
from mmseg_attnkd.release.publish import find_json_log, read_val_metrics

from _tools_helpers import REPO, load_tool

NAME_RE = re.compile(r'^(?P<stem>.+)_(?P<ts>\d{8}_\d{6})-(?P<h>[0-9a-f]{8})'
                     r'\.pth$')


@pytest.fixture(scope='module')
def publisher():
    return load_tool('publish_model.py')


@pytest.fixture(scope='module')
def zoo_tool():
    return load_tool('misc/gen_model_zoo_table.py')


@pytest.fixture
def fake_repo(tmp_path, cwd_run):
    """A repo layout with the run's config in configs/cwd/."""
    root = tmp_path / 'repo'
    (root / 'configs' / 'cwd').mkdir(parents=True)
    cfg = root / 'configs' / 'cwd' / osp.basename(cwd_run['cfg'])
    shutil.copyfile(cwd_run['cfg'], cfg)
    return root, str(cfg)


def _sha256(path):
    with open(path, 'rb') as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_publish_name_hash_log_and_metafile(cwd_run, publisher, fake_repo,
                                            tmp_path):
    root, cfg = fake_repo
    out_dir = str(tmp_path / 'release')
    res = publisher.main([
        cwd_run['ckpt'], out_dir, '--config', cfg, '--repo-root', str(root),
        '--work-dir', cwd_run['work_dir'], '--training-resources',
        '1x CPU', '--teacher-name', 'tiny-16', '--student-name', 'tiny-8'
    ])
    name = osp.basename(res['path'])
    match = NAME_RE.match(name)
    assert match, name
    stem = osp.splitext(osp.basename(cfg))[0]
    assert match['stem'] == stem
    assert match['h'] == _sha256(res['path'])[:8]  # hash of the written file
    src = load_checkpoint_safely(cwd_run['ckpt'])
    assert match['ts'] == src['meta']['time']  # when it was saved

    pub = load_checkpoint_safely(res['path'])
    assert 'optimizer' in src and 'message_hub' in src
    assert not {'optimizer', 'message_hub', 'param_schedulers'} & set(pub)
    assert get_state_dict(pub).keys() == get_state_dict(src).keys()
    # the training config text (the trainer's paths) stays behind
    assert 'cfg' in src['meta'] and 'cfg' not in pub['meta']
    assert pub['meta']['iter'] == src['meta']['iter']

    # the run's JSON log is copied beside it
    log = find_json_log(cwd_run['work_dir'])
    copied = osp.join(out_dir, f'{stem}_{match["ts"]}.log.json')
    assert res['log'] == copied and open(copied).read() == open(log).read()

    # metafile entry with student (distilled) and teacher metrics
    record = read_val_metrics(log)
    assert 'mIoU' in record and 'teacher.mIoU' in record
    data = yaml.safe_load(open(root / 'configs' / 'cwd' / 'metafile.yml'))
    (entry, ) = data['Models']
    assert entry['Name'] == stem
    assert entry['Config'] == f'configs/cwd/{stem}.py'
    assert entry['Weights'] == name
    assert entry['Training Log'] == osp.basename(copied)
    assert entry['In Collection'] == 'cwd'
    assert entry['Results'][0]['Metrics']['mIoU'] == round(record['mIoU'], 2)
    meta = entry['Metadata']
    assert meta['Teacher']['Metrics']['mIoU'] == round(
        record['teacher.mIoU'], 2)
    assert meta['Teacher']['Name'] == 'tiny-16'
    assert meta['Training Resources'] == '1x CPU'
    assert meta['Iterations'] == 2 and meta['Crop Size'] == '64x64'
    assert data['Collections'][0]['Name'] == 'cwd'

    # publishing again updates the same entry and keeps unknown fields
    entry_file = root / 'configs' / 'cwd' / 'metafile.yml'
    data['Models'][0]['Metadata']['Training Data'] = 'Synthetic'
    entry_file.write_text(yaml.safe_dump(data, sort_keys=False))
    publisher.main([
        cwd_run['ckpt'], out_dir, '--config', cfg, '--repo-root', str(root),
        '--work-dir', cwd_run['work_dir'], '--student-baseline', '12.345',
        '--weights-url-prefix', 'https://example.org/zoo/'
    ])
    data = yaml.safe_load(open(entry_file))
    assert len(data['Models']) == 1
    entry = data['Models'][0]
    assert entry['Metadata']['Student']['Metrics']['mIoU'] == 12.35
    assert entry['Metadata']['Teacher']['Name'] == 'tiny-16'  # kept
    assert entry['Weights'] == f'https://example.org/zoo/{name}'


def test_publish_student_only_is_plain_mmseg(cwd_run, publisher, fake_repo,
                                             tmp_path):
    root, cfg = fake_repo
    res = publisher.main([cwd_run['ckpt'], str(tmp_path / 'rel'), '--config',
                          cfg, '--student-only', '--no-metafile'])
    assert NAME_RE.match(osp.basename(res['path']))
    assert res['sha256'] == _sha256(res['path'])
    pub = load_checkpoint_safely(res['path'])
    assert set(pub) == {'meta', 'state_dict'}
    from mmseg_attnkd.testing import tiny_deeplabv3plus_cfg
    from mmseg_attnkd.utils import build_segmentor
    student = build_segmentor(tiny_deeplabv3plus_cfg(8, 4))
    assert compare_keys(pub['state_dict'], student).ok
    assert not (root / 'configs' / 'cwd' / 'metafile.yml').exists()


def _metafile(models):
    return dict(Collections=[dict(Name='CWD')], Models=models)


def _model(name, distilled, teacher=78.0, student=70.0):
    return {
        'Name': name, 'In Collection': 'CWD',
        'Config': f'configs/cwd/{name}.py',
        'Metadata': {'Crop Size': '512x1024', 'Iterations': 80000,
                     'Parameters': 786054, 'FLOPs': 1.5e9,
                     'Training Time': 1800.0, 'Training Resources': '1x CPU',
                     'Teacher': {'Name': 'R101', 'Metrics': {'mIoU': teacher}},
                     'Student': {'Name': 'R18', 'Metrics': {'mIoU': student}}},
        'Results': [{'Task': 'Semantic Segmentation', 'Dataset': 'Cityscapes',
                     'Metrics': {'mIoU': distilled}}],
        'Weights': f'https://example.org/{name}.pth'}


def test_model_zoo_tables_follow_metafiles(tmp_path, zoo_tool):
    root = tmp_path / 'repo'
    (root / 'configs' / 'cwd').mkdir(parents=True)
    meta = root / 'configs' / 'cwd' / 'metafile.yml'
    unreleased = dict(_model('u_v', None), Weights=None)
    meta.write_text(yaml.safe_dump(
        _metafile([_model('a_b', 74.567), unreleased]), sort_keys=False))
    readme = root / 'README.md'
    readme.write_text('# Zoo\n<!-- model-zoo:start -->\nstale\n'
                      '<!-- model-zoo:end -->\ntail\n')
    method_readme = root / 'configs' / 'cwd' / 'README.md'
    method_readme.write_text('x\n<!-- model-zoo:start -->\n'
                             '<!-- model-zoo:end -->\n')
    args = ['--root', str(root)]
    assert zoo_tool.main(args + ['--check']) == 1  # stale
    assert zoo_tool.main(args) == 0
    assert zoo_tool.main(args + ['--check']) == 0
    text = readme.read_text()
    assert text.startswith('# Zoo\n') and text.endswith('tail\n')
    row = [ln for ln in text.splitlines() if '| R101 |' in ln]
    assert len(row) == 1
    cells = [c.strip() for c in row[0].strip('|').split('|')]
    assert cells[:12] == ['[a_b](configs/cwd/a_b.py)', 'R101', 'Cityscapes',
                          '512x1024', '80000', '70.00', '74.57', '+4.57',
                          '0.79', '1.50', '0.5', '1x CPU']
    assert '[config](configs/cwd/a_b.py)' in row[0]
    assert '### CWD' in text
    assert 'not trained here (1): [u_v](configs/cwd/u_v.py).' in text
    assert '| [u_v]' not in text  # no row without weights
    # inside configs/<method>/ links go up to the repo root
    assert '[config](../../configs/cwd/a_b.py)' in method_readme.read_text()

    # a changed metafile makes --check fail until regenerated
    meta.write_text(yaml.safe_dump(
        _metafile([_model('a_b', 75.0), _model('c_d', 71.0)]),
        sort_keys=False))
    assert zoo_tool.main(args + ['--check']) == 1
    zoo_tool.main(args)
    assert '| 75.00 |' in readme.read_text()
    assert readme.read_text().count('| R101 |') == 2


def test_unknown_method_marker_names_close_match(tmp_path, zoo_tool):
    root = tmp_path / 'repo'
    (root / 'configs' / 'attnfd').mkdir(parents=True)
    (root / 'configs' / 'attnfd' / 'metafile.yml').write_text(
        yaml.safe_dump(_metafile([_model('x', 1.0)])))
    (root / 'README.md').write_text('<!-- model-zoo:start atnfd -->\n'
                                    '<!-- model-zoo:end -->\n')
    with pytest.raises(KeyError, match='Did you mean: attnfd'):
        zoo_tool.main(['--root', str(root)])


def test_repository_readmes_agree_with_metafiles(zoo_tool):
    """The committed README tables are what the metafiles generate."""
    assert zoo_tool.main(['--root', REPO, '--check']) == 0


def test_publish_fp16_student_release_config(cwd_run, publisher, fake_repo,
                                             tmp_path):
    """An fp16 student-only release: half the bytes, loads into the fp32
    student, and the metafile points at the plain config that loads it."""
    import torch
    from mmengine.config import Config
    from mmseg_attnkd.testing import tiny_deeplabv3plus_cfg
    from mmseg_attnkd.utils import build_segmentor
    root, cfg = fake_repo
    plain = root / 'configs' / 'cwd' / 'student.py'
    Config(dict(model=tiny_deeplabv3plus_cfg(8, 4))).dump(str(plain))
    common = [cwd_run['ckpt'], str(tmp_path / 'rel'), '--config', cfg,
              '--student-only', '--repo-root', str(root), '--work-dir',
              cwd_run['work_dir']]
    with pytest.raises(ValueError, match='--release-config'):
        publisher.main(common)
    full = publisher.main(common + ['--no-metafile'])
    res = publisher.main(common + ['--fp16', '--student-config', str(plain)])
    pub = load_checkpoint_safely(res['path'])
    state = pub['state_dict']
    floats = [v for v in state.values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    assert any(not v.is_floating_point() for v in state.values())  # BN count
    assert pub['meta']['weights_dtype'] == 'float16'
    assert osp.getsize(res['path']) < 0.6 * osp.getsize(full['path'])
    student = build_segmentor(tiny_deeplabv3plus_cfg(8, 4)).eval()
    student.load_state_dict(state)  # copied into the fp32 parameters
    ref = build_segmentor(tiny_deeplabv3plus_cfg(8, 4)).eval()
    ref.load_state_dict(load_checkpoint_safely(full['path'])['state_dict'])
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        a, b = student(x, None, 'tensor'), ref(x, None, 'tensor')
    assert next(student.parameters()).dtype == torch.float32
    assert (a.argmax(1) == b.argmax(1)).float().mean() > 0.99
    torch.testing.assert_close(a, b, rtol=1e-2, atol=1e-2)
    entry = yaml.safe_load(open(root / 'configs' / 'cwd' /
                                'metafile.yml'))['Models'][0]
    assert entry['Config'] == 'configs/cwd/student.py'
    assert entry['Metadata']['Training Config'] == \
        f'configs/cwd/{osp.basename(cfg)}'
    # given by absolute path, the student's config is named from the root
    assert entry['Metadata']['Student']['Config'] == 'configs/cwd/student.py'


def test_a_resumed_training_releases_the_log_of_every_invocation(tmp_path):
    import json
    from mmseg_attnkd.release.publish import copy_json_log, resumed_json_logs

    def run(ts, iters):
        vis = tmp_path / 'work' / ts / 'vis_data'
        vis.mkdir(parents=True)
        lines = [json.dumps(dict(iter=i, loss=1.0 / i)) for i in iters]
        (vis / 'scalars.json').write_text('\n'.join(lines) + '\n')
        return str(vis / 'scalars.json')

    old = run('20261201_000000', [10, 20])  # an earlier, separate run
    first = run('20261202_000000', [10, 20, 30])
    second = run('20261203_000000', [30, 40])  # resumed at iteration 30
    third = run('20261204_000000', [40, 50])  # resumed again
    work = str(tmp_path / 'work')
    assert resumed_json_logs(work, third) == [first, second, third]
    assert resumed_json_logs(work, first) == [first]  # a fresh start
    out = copy_json_log(resumed_json_logs(work, third), str(tmp_path),
                        'stem', 'ts')
    iters = [json.loads(ln)['iter'] for ln in open(out)]
    assert iters == [10, 20, 30, 30, 40, 40, 50]
    assert old not in resumed_json_logs(work, third)
