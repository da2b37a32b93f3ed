# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""bench/sd_loss_terms/run.py: loss-term sizes read from MMEngine's scalars."""
import json
import os

import pytest

from bench.sd_loss_terms import report as sd_report
from bench.sd_loss_terms import run as sd_loss_terms
from bench.sd_loss_terms import terms as sd_terms


def _log(work_dir, stamp, rows, result=None):
    """One invocation's ``vis_data/scalars.json`` (MMEngine's layout)."""
    folder = os.path.join(work_dir, stamp, 'vis_data')
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'scalars.json'), 'w') as f:
        for row in rows:
            f.write(json.dumps(row) + '\n')
    if result is not None:
        with open(os.path.join(work_dir, 'result.json'), 'w') as f:
            json.dump(result, f)


def _row(it, s_ce, t_ce, mse):
    return {'loss': s_ce + t_ce + mse, 'student.decode.loss_ce': s_ce,
            'distill.loss_teacher_ce': t_ce, 'distill.loss_sd_mse': mse,
            'time': 0.5, 'iter': it, 'step': it}


@pytest.fixture
def root(tmp_path):
    # seed 0: 20 iterations, resumed at 10 after logging up to 12; the
    # second invocation's 11 and 12 replace the first's
    run = tmp_path / 'unet_sd_seed0'
    _log(run, '20260101_000000',
         [_row(i, 1.0, 0.9, 0.01) for i in (1, 2)] +
         [_row(i, 5.0, 5.0, 5.0) for i in range(3, 13)])
    _log(run, '20260101_010000',
         [_row(i, 0.5, 0.4, 0.001) for i in range(11, 21)],
         result={'commits': ['abc']})
    # seed 1: one invocation, different values
    _log(tmp_path / 'unet_sd_seed1', '20260101_000000',
         [_row(i, 3.0, 2.9, 0.03) if i <= 2 else _row(i, 0.3, 0.2, 0.003)
          for i in range(1, 21)], result={'commit': 'def'})
    # a baseline (no SD terms) and an unfinished SD run: both left out
    _log(tmp_path / 'unet_baseline_seed0', '20260101_000000',
         [{'loss': 1.0, 'decode.loss_ce': 1.0, 'iter': 1}], result={})
    _log(tmp_path / 'pspnet_sd_seed0', '20260101_000000',
         [_row(i, 9.0, 9.0, 9.0) for i in range(1, 21)])
    return tmp_path


def test_terms_keep_the_resumed_invocation_and_finished_runs(root):
    found = sd_terms.collect(str(root))
    assert list(found) == ['unet_sd_seed0', 'unet_sd_seed1']
    seed0 = found['unet_sd_seed0']
    assert seed0['iters'] == 20 and seed0['commits'] == ['abc']
    # first tenth: iterations 1-2; last tenth: 19-20 (from the resume)
    assert seed0['student_ce'] == {'first': 1.0, 'last': 0.5}
    assert seed0['teacher_ce'] == {'first': 0.9, 'last': 0.4}
    assert seed0['mse'] == pytest.approx({'first': 0.01, 'last': 0.001})
    assert found['unet_sd_seed1']['commits'] == ['def']


def test_report_averages_the_seeds_of_an_arm(root):
    text = sd_report.report(sd_terms.collect(str(root)), 'cmd')
    row = [line for line in text.splitlines()
           if line.startswith('| unet_sd |')][0]
    cells = [c.strip() for c in row.strip('|').split('|')]
    # the fixture's runs dumped no config: their consistency loss is unknown
    assert cells[:4] == ['unet_sd', 'unknown', '2', '20']
    assert cells[4] == '2.000 -> 0.400'  # student CE: (1+3)/2, (0.5+0.3)/2
    assert cells[5] == '1.900 -> 0.300'
    assert cells[6] == '2.00e-02 -> 2.00e-03'
    assert cells[7] == f'{0.002 / 0.3:.1e}' and cells[8] == '-0.100'
    assert 'commit(s) abc, def' in text and '`cmd`' in text


def test_main_writes_md_and_json_and_refuses_bad_roots(root, tmp_path,
                                                       capsys):
    out = tmp_path / 'out'
    sd_loss_terms.main(['--work-root', str(root), '--name', 'x',
                        '--out-dir', str(out)])
    data = json.loads((out / 'x.json').read_text())
    assert sorted(data['runs']) == ['unet_sd_seed0', 'unet_sd_seed1']
    assert (out / 'x.md').read_text().startswith('#### Size of each axial-SD loss term')
    for bad, says in ((root / 'missing', 'is not a folder'),
                      (root / 'unet_baseline_seed0', 'logged')):
        with pytest.raises(SystemExit):
            sd_loss_terms.main(['--work-root', str(bad), '--out-dir',
                                str(out)])
        assert says in capsys.readouterr().err


def test_a_study_with_one_records_file_counts_its_recorded_runs(tmp_path):
    """CamVid v2: a finished run has test_metrics.json and a record in the
    study's JSON (no result.json); a run without a record is left out."""
    for name in ('sd_kl_seed0', 'sd_ema_seed0'):
        _log(tmp_path / name, '20260101_000000',
             [_row(i, 1.0, 0.9, 0.01) for i in range(1, 11)])
        (tmp_path / name / 'test_metrics.json').write_text('{"mIoU": 1}')
    records = {'sd_kl_seed0': dict(key='sd_kl_seed0', commit='c1')}
    assert sd_terms.collect(str(tmp_path)) == {}
    found = sd_terms.collect(str(tmp_path), records)
    assert list(found) == ['sd_kl_seed0']
    assert found['sd_kl_seed0']['commits'] == ['c1']
    path = tmp_path / 'camvid_v2_cpu.json'
    path.write_text(json.dumps(dict(runs=list(records.values()))))
    sd_loss_terms.main(['--work-root', str(tmp_path), '--records',
                        str(path), '--name', 'v2', '--out-dir',
                        str(tmp_path / 'out')])
    text = (tmp_path / 'out' / 'v2.md').read_text()
    assert '| sd_kl | unknown | 1 |' in text and 'sd_ema' not in text
    # a work root outside the repository is named by its base name only
    assert f'--work-root {tmp_path.name} ' in text


def _config(work_dir, distiller):
    (work_dir / 'config.py').write_text(
        "custom_imports = dict(imports=['not_installed_plugin'])\n"
        f"model = dict(type='SegSelfDistill', distiller={distiller!r})\n")


def test_the_consistency_loss_is_read_from_each_runs_config(root):
    """The logged key is ``distill.loss_sd_mse`` for the KL too; the
    report names the loss each run trained with, from its config dump."""
    _config(root / 'unet_sd_seed0',
            dict(type='AxialSelfDistiller',
                 mse=dict(type='SelfDistillKLLoss', tau=2.0)))
    _config(root / 'unet_sd_seed1', dict(type='AxialSelfDistiller'))
    assert sd_terms.consistency_loss(str(root / 'unet_sd_seed0')) == \
        'KL (tau 2.0)'
    # no ``mse`` in the config: the distillers' default, the MSE
    assert sd_terms.consistency_loss(str(root / 'unet_sd_seed1')) == 'MSE'
    assert sd_terms.consistency_loss(str(root / 'missing')) == 'unknown'
    (root / 'pspnet_sd_seed0' / 'config.py').write_text('model = (')
    assert sd_terms.consistency_loss(str(root / 'pspnet_sd_seed0')) == \
        'unknown'
    text = sd_report.report(sd_terms.collect(str(root)), 'cmd')
    assert '| unet_sd | KL (tau 2.0)/MSE | 2 |' in text
