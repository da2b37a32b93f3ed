# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""bench/sstem/run.py: models, paired initial weights, an end-to-end smoke.

The smoke run trains two width-4 architectures x three arms for two
iterations on the two sample sections at 128x128 (one section train, the
other val and test) in this process (``--jobs 0``; the protocols run each
in its own process), writes the report, and is skipped on a second call;
it takes about half a minute on two idle cores.
"""
import json
import os
import os.path as osp
import shutil
import types

import pytest
import torch

import mmseg_attnkd  # noqa: F401
from bench.sstem import arms as sstem_arms
from bench.sstem import config as sstem_config
from bench.sstem import data as sstem_data
from bench.sstem import paired as sstem_paired
from bench.sstem import render as sstem_render
from bench.sstem import run as sstem_run
from bench.sstem import schedule as sstem_schedule
from bench.sstem import summary as sstem_summary
from bench.sstem import worker as sstem_worker
from bench.lib import common

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SAMPLE = osp.join(REPO, '..', 'shared', 'data', 'drosophila_sstem_sample')


def _args(*extra):
    return sstem_run.parse_args(['--width', '4', '--unet-width', '4', '--crop',
                             '64', *extra])


@pytest.mark.parametrize('arch', sstem_arms.ARCHS)
def test_arms_share_the_student_and_differ_as_designed(arch):
    args = _args()
    base = sstem_arms.arm_model(arch, 'baseline', args)
    ce2 = sstem_arms.arm_model(arch, 'ce2', args)
    sd = sstem_arms.arm_model(arch, 'sd', args)
    assert base['test_cfg'] == dict(mode='slide', crop_size=(64, 64),
                                    stride=(43, 43))
    assert ce2['decode_head']['loss_decode']['loss_weight'] == \
        2 * base['decode_head']['loss_decode']['loss_weight']
    ce2['decode_head']['loss_decode'] = base['decode_head']['loss_decode']
    assert ce2 == base
    assert sd['architecture'] == base and sd['type'] == 'SegSelfDistill'
    axial = sd['distiller']['axial']
    side = 64 // sstem_arms.LOGIT_STRIDE[arch] // axial['stride']
    assert axial['span'] >= max(side, 64)
    assert 'SyncBN' not in str(base)
    model = sstem_arms.build(sd)
    head = model.architecture.decode_head
    assert head.num_classes == sstem_arms.NUM_CLASSES
    model.eval()
    with torch.no_grad():
        logits = model.architecture(torch.rand(1, 3, 64, 64), mode='tensor')
    assert logits.shape[-1] == 64 // sstem_arms.LOGIT_STRIDE[arch]


def test_source_deltas_as_published():
    assert sstem_arms.SOURCE_DELTAS['deeplabv3plus'] == (3.60, 2.83)
    assert sstem_arms.SOURCE_DELTAS['pspnet'] == (-1.32, -1.27)
    assert sstem_arms.SOURCE_DELTAS['upernet'] is None


def test_targets_count_signs_and_say_which_exceed_seed_noise():
    def arch(d_student, d_teacher_student, d_student_ce2):
        return dict(d_student=d_student, d_teacher_student=d_teacher_student,
                    d_student_ce2=d_student_ce2, d_teacher=d_student)

    # 2 seeds: t(1) = 12.706, so +1.0 +- 0.1 is clear, +1.0 / -0.5 not
    summary = {a: arch([1.0, 1.1], [0.2, -0.4], [0.0, 0.0])
               for a in sstem_arms.ARCHS}
    summary['pspnet'] = arch([-2.0, -2.1], [1.0, 1.1], [0.5, -0.2])
    lines = sstem_summary.target_lines(summary)
    n = len(sstem_arms.ARCHS)
    assert lines[0] == (
        f'SD student output >= baseline: {n - 1} of {n} (target >= 4 of {n}:'
        ' met); beyond seed noise (95% paired t-interval excludes 0): '
        f'{n - 1} better, 1 worse')
    # mean -0.1: a loss by sign, within noise; PSPNet's +1.05 is clear
    assert lines[1].startswith(f'teacher output >= student output: 1 of {n}')
    assert lines[1].endswith('1 better, 0 worse')
    # strict: a zero mean is not a win
    assert lines[2].startswith(f'SD student output > doubled-CE control: '
                               f'1 of {n} (target >= 4 of {n}: missed)')
    assert lines[3].startswith('PSPNet loses as in the source')
    assert 'yes' in lines[3]


def test_sd_options_reach_the_distiller():
    args = _args('--sd-mse-target', 'logits', '--sd-mse-weight', '0.5',
                 '--sd-detach-input', '--sd-span', '32', '--sd-ce-weight',
                 '2')
    distiller = sstem_arms.sd_distiller('fpn', args)
    assert distiller['mse']['target'] == 'logits'
    assert distiller['mse']['loss_weight'] == 0.5
    assert distiller['mse']['detach_teacher'] is True  # package default
    assert distiller['axial']['detach_input'] is True
    assert distiller['axial']['span'] == 32
    assert distiller['teacher_ce']['loss_weight'] == 2
    default = sstem_arms.sd_distiller('fpn', _args())
    assert 'detach_input' not in default['axial']
    assert default['mse']['target'] == 'prob'


def test_sd_settings_are_spelled_out_with_their_origin():
    text = sstem_arms.sd_settings_text(_args())
    assert 'MSE on probabilities, weight 1' in text
    assert 'detach_input False' in text and 'package defaults' in text
    text = sstem_arms.sd_settings_text(_args('--sd-detach-input',
                                        '--sd-mse-weight', '2'))
    assert 'weight 2' in text and 'detach_input True' in text
    assert 'set by --sd-mse-weight, --sd-detach-input' in text


def test_runs_are_reused_only_under_their_own_settings(tmp_path):
    """A run folder started with other settings is refused, not resumed
    or reported under the new ones; its paired init is another file."""
    from PIL import Image
    args = _args('--work-root', str(tmp_path))
    data, elsewhere = str(tmp_path / 'data'), str(tmp_path / 'copy')
    for root in (data, elsewhere):  # the configs read the image size
        os.makedirs(osp.join(root, 'img_dir', 'train'))
        Image.new('L', (96, 80)).save(
            osp.join(root, 'img_dir', 'train', 'x.png'))
    work_dir = sstem_schedule.prepare_run('fpn', 'sd', 0, args, data)
    spec = json.load(open(osp.join(work_dir, 'spec.json')))
    sha = spec['config_sha']
    assert sha == sstem_config.run_config_sha('fpn', 'sd', 0, args, data)
    assert sstem_schedule.prepare_run('fpn', 'sd', 0, args, data) == work_dir
    # the same settings under another data folder: the same run
    assert sstem_config.run_config_sha('fpn', 'sd', 0, args, elsewhere) == sha
    common.write_json(osp.join(work_dir, 'result.json'), spec)
    assert sstem_schedule.load_result(work_dir, sha)['arm'] == 'sd'
    changed = _args('--work-root', str(tmp_path), '--sd-mse-weight', '2')
    new_sha = sstem_config.run_config_sha('fpn', 'sd', 0, changed, data)
    assert new_sha != sha
    with pytest.raises(SystemExit, match='started with other settings'):
        sstem_schedule.load_result(work_dir, new_sha)
    with pytest.raises(SystemExit, match='started with other settings'):
        sstem_schedule.prepare_run('fpn', 'sd', 0, changed, data)
    wider = _args('--work-root', str(tmp_path), '--width', '8')
    assert sstem_paired.make_initial_weights('fpn', 0, wider) != spec['init']


def test_initial_student_weights_are_equal_across_arms(tmp_path):
    """Each arm builds its model under the same seed; the hook loads the
    saved student, so every arm starts from identical student weights and
    identical random streams."""
    from mmengine.runner import set_random_seed
    args = _args('--work-root', str(tmp_path))
    init = sstem_paired.make_initial_weights('deeplabv3plus', 3, args)
    saved = torch.load(init, weights_only=True)['state_dict']
    digests, draws, raw = {}, {}, {}
    for arm in sstem_arms.ARMS:
        set_random_seed(3)  # what the Runner does before building
        model = sstem_arms.build(
            sstem_arms.arm_model('deeplabv3plus', arm, args))
        raw[arm] = sstem_paired.state_digest(
            sstem_paired.student_of(model).state_dict())
        runner = types.SimpleNamespace(
            iter=0, model=model,
            logger=types.SimpleNamespace(info=lambda *a: None))
        path = str(tmp_path / f'{arm}.sha256')
        sstem_paired.paired_init_hook(init, 3, path).before_train(runner)
        digests[arm] = open(path).read().strip()
        draws[arm] = torch.rand(4)
    assert len(set(digests.values())) == 1
    assert digests['sd'] == sstem_paired.state_digest(saved)
    assert all(torch.equal(draws['baseline'], d) for d in draws.values())
    # without the hook the SD student would start elsewhere (the axial
    # block is built between the student's construction and its init)
    assert raw['sd'] != raw['baseline']
    # a resumed run keeps its weights
    model = sstem_arms.build(
        sstem_arms.arm_model('deeplabv3plus', 'baseline', args))
    before = sstem_paired.state_digest(model.state_dict())
    runner = types.SimpleNamespace(iter=5, model=model, logger=None)
    hook = sstem_paired.paired_init_hook(init, 3, str(tmp_path / 'r'))
    hook.before_train(runner)
    assert sstem_paired.state_digest(model.state_dict()) == before


def _sample_data(tmp_path) -> str:
    from mmseg_attnkd.datasets.converters import convert_drosophila_sstem
    if not osp.isdir(SAMPLE):
        pytest.skip('../shared/data/drosophila_sstem_sample not present')
    data = str(tmp_path / 'data')
    convert_drosophila_sstem(SAMPLE, data, train_sections=[0],
                             val_sections=[1], test_sections=[],
                             scale=0.125)
    for kind in ('img_dir', 'ann_dir'):  # smoke only: test = val
        shutil.rmtree(osp.join(data, kind, 'test'))
        shutil.copytree(osp.join(data, kind, 'val'),
                        osp.join(data, kind, 'test'))
    return data


def test_study_smoke_end_to_end(tmp_path):
    data = _sample_data(tmp_path)
    work, out = str(tmp_path / 'work'), str(tmp_path / 'out')
    argv = ['--data-dir', data, '--work-root', work, '--out-dir', out,
            '--archs', 'unet', 'deeplabv3plus', '--seeds', '0', '--iters',
            '2', '--val-interval', '1', '--width', '4', '--unet-width', '4',
            '--crop', '64',
            '--batch', '2', '--workers', '0', '--jobs', '0', '--threads',
            '1', '--latency-repeats', '1', '--latency-threads', '1']
    results = sstem_run.main(argv)
    assert len(results) == 6
    for name in ('sstem_study_cpu.md', 'sstem_study_cpu.json',
                 'sstem_study_cpu.png'):
        assert osp.isfile(osp.join(out, name)), name
    text = open(osp.join(out, 'sstem_study_cpu.md')).read()
    assert 'DeepLabV3+' in text and '+3.60' in text  # the source beside
    assert 'SD student output >= baseline' in text
    by = {(r['arch'], r['arm']): r for r in results}
    for arch in ('unet', 'deeplabv3plus'):
        sd = by[(arch, 'sd')]
        assert {'mIoU', 'teacher_output.mIoU'} <= set(sd['test'])
        # val curves of both outputs from the val loop
        assert set(sd['val_student']) == {'1', '2'}
        assert set(sd['val_teacher']) == {'1', '2'}
        assert set(sd['val_final']) == {'slide', 'whole'}
        # the exported teacher-output model scores what the loop scored
        assert sd['test_export_teacher_mIoU'] == \
            sd['test']['teacher_output.mIoU']
        assert 'teacher_output.mIoU' not in by[(arch, 'baseline')]['test']
        # paired initial student weights in all arms
        assert len({by[(arch, arm)]['init_student_sha256']
                    for arm in sstem_arms.ARMS}) == 1
    data_json = json.load(open(osp.join(out, 'sstem_study_cpu.json')))
    assert data_json['costs']['unet']['teacher']['params'] > \
        data_json['costs']['unet']['student']['params']
    # a second call skips the finished runs and rebuilds the report
    mtime = os.path.getmtime(
        osp.join(work, 'cpu', 'unet_sd_seed0', 'result.json'))
    again = sstem_run.main(argv)
    assert len(again) == 6
    assert os.path.getmtime(
        osp.join(work, 'cpu', 'unet_sd_seed0', 'result.json')) == mtime
    # --report-only reads every finished run back under its own settings
    os.remove(osp.join(out, 'sstem_study_cpu.md'))
    assert len(sstem_run.main(argv + ['--report-only', '--no-cost'])) == 6
    assert osp.isfile(osp.join(out, 'sstem_study_cpu.md'))
    # a new machine (no run cache): the committed results restore every
    # finished run instead of training it again
    shutil.rmtree(work)
    restored = sstem_run.main(argv + ['--no-cost'])
    assert [(r['arch'], r['arm'], r['test']) for r in restored] == \
        [(r['arch'], r['arm'], r['test']) for r in results]
    assert all(r['restored_from'].endswith('sstem_study_cpu.json')
               for r in restored)
    assert not osp.exists(osp.join(work, 'cpu', 'unet_sd_seed0',
                                   'config.py'))


def test_test_scores_follow_the_inference_mode_val_prefers(tmp_path):
    def run(arch, arm, seed, slide, whole, test_slide, test_whole):
        return dict(arch=arch, arm=arm, seed=seed,
                    val_final=dict(slide={'mIoU': slide},
                                   whole={'mIoU': whole}),
                    test_by_mode=dict(slide={'mIoU': test_slide},
                                      whole={'mIoU': test_whole}))

    # val prefers whole on average (-1.0), so test is read in whole mode
    results = [run('fpn', 'baseline', 0, 50.0, 52.0, 40.0, 45.0),
               run('fpn', 'ce2', 0, 51.0, 51.0, 41.0, 46.0)]
    mode, diff = sstem_summary.inference_mode(results)
    assert (mode, diff) == ('whole', -1.0)
    summary = sstem_summary.summarize(results, mode)['fpn']
    assert summary['baseline'] == {0: 45.0}
    assert summary['d_ce2'] == [1.0]
    # a non-finite val score (a diverged run) does not decide; ties slide
    results.append(run('fpn', 'sd', 0, float('nan'), 1.0, 0.0, 0.0))
    results[0]['val_final']['whole']['mIoU'] = 50.0
    results[1]['val_final']['whole']['mIoU'] = 51.0
    assert sstem_summary.inference_mode(results) == ('slide', 0.0)
    assert sstem_summary.inference_mode([]) == ('slide', None)
    # every architecture is read in the mode asked for, not only the first
    two = [run('unet', 'baseline', 0, 50.0, 40.0, 11.0, 99.0),
           run('pspnet', 'baseline', 0, 50.0, 40.0, 12.0, 98.0)]
    summary = sstem_summary.summarize(two, 'slide')
    assert summary['unet']['baseline'] == {0: 11.0}
    assert summary['pspnet']['baseline'] == {0: 12.0}
    whole = sstem_summary.summarize(two, 'whole')
    assert whole['pspnet']['baseline'] == {0: 98.0}


def test_worker_processes_finish_every_run_and_record_the_commit(tmp_path):
    # --jobs 1: each run trains in its own process; the scheduler reads its
    # result back under the settings it was started with
    data = _sample_data(tmp_path)
    work, out = str(tmp_path / 'work'), str(tmp_path / 'out')
    argv = ['--data-dir', data, '--work-root', work, '--out-dir', out,
            '--archs', 'fpn', '--arms', 'ce2', '--seeds', '0',
            '--iters', '1', '--val-interval', '1', '--width', '4',
            '--crop', '64', '--batch', '2', '--workers', '0', '--jobs', '1',
            '--threads', '1', '--no-cost']
    results = sstem_run.main(argv)
    assert [r['arm'] for r in results] == ['ce2']
    for r in results:
        assert len(r['commits']) == 1 and r['commits'][0] != 'unknown'
        # one invocation, its machine paths masked (see common.write_json)
        assert len(r['commands']) == 1
        assert r['commands'][0].startswith('python bench/sstem/run.py ')
        assert ' '.join(argv[6:]) in r['commands'][0]
        assert set(r['test_by_mode']) == {'slide', 'whole'}
        assert r['test'] == r['test_by_mode']['slide']
    text = open(osp.join(out, 'sstem_study_cpu.md')).read()
    assert f'Runs trained at commit(s) {results[0]["commits"][0]}' in text
    assert results[0]['jobs'] == 1
    assert 'one run at a time with 1 thread(s)' in text
    assert 'Inference mode, chosen on val' in text


def test_deadline_stops_starting_runs(tmp_path):
    data = _sample_data(tmp_path)
    argv = ['--data-dir', data, '--work-root', str(tmp_path / 'w'),
            '--out-dir', str(tmp_path / 'o'), '--archs', 'fpn', '--seeds',
            '0', '1', '--width', '4', '--crop', '64', '--jobs', '2']
    args = sstem_run.parse_args(argv)
    args.deadline_min = 1e-9  # already past when the scheduler starts
    results, failed, stopped = sstem_schedule.run_all(args, data)
    assert results == [] and failed == []
    assert sorted(stopped) == sorted(
        f'fpn_{arm}_seed{s}' for arm in sstem_arms.ARMS for s in (0, 1))
    # their configs are written, so a later call can run them; nothing
    # trained them, so they record no commit yet
    assert osp.isfile(osp.join(str(tmp_path / 'w'), 'cpu',
                               'fpn_sd_seed1', 'config.py'))
    with open(osp.join(str(tmp_path / 'w'), 'cpu', 'fpn_sd_seed1',
                       'spec.json')) as f:
        spec = json.load(f)
    assert spec['commits'] == [] and spec['pending']['commit']


def test_an_interrupted_conversion_of_the_default_cache_is_redone(tmp_path):
    # split folders without the .complete stamp: used as they are only
    # when the user passed that --data-dir
    data = tmp_path / 'data'
    for split in ('train', 'val', 'test'):
        (data / 'img_dir' / split).mkdir(parents=True)
    args = sstem_run.parse_args(['--data-dir', str(data), '--data-root',
                             str(tmp_path / 'no_raw')])
    assert sstem_data.prepare_data(args) == str(data)
    args.data_dir_given = False  # as for the default cache folder
    with pytest.raises(FileNotFoundError, match='--data-root'):
        sstem_data.prepare_data(args)


def test_a_diverged_run_is_flagged_from_its_logged_loss(tmp_path):
    import json

    from bench.lib import runs

    def write(name, loss_values):
        folder = tmp_path / name / '20261201_000000' / 'vis_data'
        folder.mkdir(parents=True)
        rows = [dict(iter=10 * (i + 1), time=0.5, loss=v)
                for i, v in enumerate(loss_values)]
        rows.append(dict(step=30, mIoU=40.0))
        folder.joinpath('scalars.json').write_text(
            '\n'.join(json.dumps(r) for r in rows))
        return sstem_worker.read_curves(str(tmp_path / name))

    fine = write('fine', [2.5, 0.6, 0.5])
    assert fine['diverged'] is False and fine['loss_last'] == 0.5
    # the logit-target MSE on CamVid: 3.4 at first, then 2e8
    assert write('up', [3.4, 0.9, 2e8])['diverged'] is True
    assert write('nan', [3.4, 0.9, float('nan')])['diverged'] is True
    assert runs.read_scalars(str(tmp_path / 'nan'))['loss_last'] is None


def test_runs_sharing_the_machine_are_counted_once_in_machine_time():
    runs = [dict(jobs=2, threads=1, train_wall_s=3600.0, eval_wall_s=0.0)
            for _ in range(4)]
    text = sstem_render._concurrency(runs)
    assert text == (', 2 runs at a time with 1 thread(s) each, about '
                    '2.00 h of the machine')
    # results from before the field existed ran one at a time
    assert sstem_render._concurrency([dict(threads=2)]) == \
        ', one run at a time with 2 thread(s)'


def test_optimizer_and_lr_follow_the_protocol_unless_given():
    args = _args()
    assert (args.optimizer, args.lr) == ('sgd', 0.05)
    assert sstem_config.optimizer_cfg(args.optimizer, args.lr) == dict(
        type='SGD', lr=0.05, momentum=0.9, weight_decay=5e-4)
    args = _args('--optimizer', 'adamw', '--lr', '0.001')
    cfg = sstem_config.optimizer_cfg(args.optimizer, args.lr)
    assert (cfg['type'], cfg['lr']) == ('AdamW', 0.001)
