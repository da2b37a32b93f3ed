# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""tools/analysis/visualize_attention.py on tiny trained runs."""
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from mmseg_attnkd.analysis import (axial_predictions, collect_cbam_attention,
                                   load_dataset_samples)
from mmseg_attnkd.analysis.axial_variant import with_axial_refine_head
from mmseg_attnkd.utils import (build_distill_model, build_segmentor,
                                get_student_model_cfg, load_checkpoint_safely,
                                load_config, save_checkpoint_atomic,
                                select_prefix)

from _tools_helpers import load_tool

H = W = 64
BAR, GAP = 14, 2  # title bar and panel gap of the figures


@pytest.fixture(scope='module')
def vis_tool():
    return load_tool('analysis/visualize_attention.py')


def _png(path):
    assert osp.getsize(path) > 0
    return np.asarray(Image.open(path).convert('RGB'))


def test_attnfd_figures_from_dataset(attnfd_run, cwd_run, vis_tool,
                                     tmp_path):
    # a "baseline" student: the converted student of another run
    baseline = str(tmp_path / 'baseline.pth')
    load_tool('model_converters/convert_kd_ckpt_to_student.py').main(
        [cwd_run['ckpt'], baseline, '--config', cwd_run['cfg']])
    out = str(tmp_path / 'vis')
    written = vis_tool.main([
        'attnfd', attnfd_run['cfg'], attnfd_run['ckpt'], '--out-dir', out,
        '--num', '2', '--topk', '3', '--baseline-config',
        cwd_run['student_cfg'], '--baseline-checkpoint', baseline
    ])
    names = {osp.basename(p) for p in written}
    for sample in ('0000', '0001'):
        for stage in range(3):
            for side in ('teacher', 'student'):
                spatial = _png(osp.join(
                    out, f'{sample}_stage{stage}_{side}_spatial.png'))
                assert spatial.shape == (H, W, 3)
                assert spatial.std() > 0  # not a blank image
                channels = _png(osp.join(
                    out, f'{sample}_stage{stage}_{side}_channels.png'))
                assert channels.shape == (H + BAR, 3 * W + 2 * GAP, 3)
        sheet = _png(osp.join(out, f'{sample}_attention.png'))
        assert sheet.shape == (3 * (H + BAR) + 2 * GAP, 3 * W + 2 * GAP, 3)
        # image | baseline | distilled | teacher | ground truth
        seg = _png(osp.join(out, f'{sample}_segmentation.png'))
        assert seg.shape == (H + BAR, 5 * W + 4 * GAP, 3)
        assert f'{sample}_segmentation.png' in names
    # the ground-truth panel is the label map in the dataset palette
    cfg = load_config(attnfd_run['cfg'])
    sample = load_dataset_samples(cfg, 'val', 1)[0]
    palette = np.array(cfg.val_dataloader.dataset.metainfo.palette)
    seg_panel = _png(osp.join(out, '0000_segmentation.png'))
    gt_panel = seg_panel[BAR:, 4 * (W + GAP):]
    valid = sample.gt != 255
    assert (gt_panel[valid] == palette[sample.gt[valid]]).all()
    assert (gt_panel[~valid] == 0).all()


def test_collected_attention_is_the_cbam_of_the_recorded_feature(
        attnfd_run):
    model = build_distill_model(attnfd_run['cfg'], attnfd_run['ckpt'])
    cfg = load_config(attnfd_run['cfg'])
    sample = load_dataset_samples(cfg, 'val', 1)[0]
    inputs = model.data_preprocessor(sample.data, False)['inputs']
    maps = collect_cbam_attention(model, inputs)
    assert [(m.stage, m.side) for m in maps][:2] == [(0, 'teacher'),
                                                     (0, 'student')]
    # recompute stage 0 by hand: hook the student's deepest stage
    first = [m for m in maps if m.stage == 0 and m.side == 'student'][0]
    assert first.module == 'backbone.layer4'
    feats = {}
    layer = model.student.get_submodule('backbone.layer4')
    handle = layer.register_forward_hook(
        lambda m, a, o: feats.setdefault('x', o))
    with torch.no_grad():
        model.student(inputs, None, mode='tensor')
    handle.remove()
    cbam = model.distiller.connectors['attnfd_0_student'].cbam
    with torch.no_grad():
        channel, spatial = cbam.attention_maps(feats['x'])
    assert torch.allclose(first.spatial_att, spatial)
    assert torch.allclose(first.channel_att, channel)
    assert first.spatial_att.shape == (1, 1, 8, 8)
    assert first.channel_att.shape == (1, 64, 1, 1)


def test_attnfd_from_image_file_has_no_gt_panel(attnfd_run, synthetic_data,
                                                vis_tool, tmp_path):
    img = osp.join(synthetic_data, 'img_dir', 'val', '0002.png')
    out = str(tmp_path / 'vis')
    vis_tool.main(['attnfd', attnfd_run['cfg'], attnfd_run['ckpt'],
                   '--out-dir', out, '--img', img, '--no-attention'])
    seg = _png(osp.join(out, '0002_segmentation.png'))
    assert seg.shape == (H + BAR, 3 * W + 2 * GAP, 3)  # image, student, T
    assert not osp.exists(osp.join(out, '0002_attention.png'))


def test_attention_needs_cbam_distiller(cwd_run, vis_tool, tmp_path):
    with pytest.raises(ValueError, match='no connector with a CBAM'):
        vis_tool.main(['attnfd', cwd_run['cfg'], cwd_run['ckpt'],
                       '--out-dir', str(tmp_path), '--num', '1'])


def test_axial_student_teacher_difference(axial_run, vis_tool, tmp_path,
                                          capsys):
    # make the (zero-initialised) refinement visibly change the logits
    ckpt = load_checkpoint_safely(axial_run['ckpt'])
    state = ckpt['state_dict']
    key = 'distiller.connectors.axial.axial.proj.weight'
    gen = torch.Generator().manual_seed(0)
    state[key] = torch.randn(state[key].shape, generator=gen) * 5
    perturbed = str(tmp_path / 'axial.pth')
    save_checkpoint_atomic(dict(meta=ckpt['meta'], state_dict=state),
                           perturbed)

    out = str(tmp_path / 'vis')
    vis_tool.main(['axial', axial_run['cfg'], perturbed, '--out-dir', out,
                   '--num', '2'])
    fig = _png(osp.join(out, '0000_axial.png'))
    assert fig.shape == (H + BAR, 4 * W + 3 * GAP, 3)

    # the teacher prediction equals an MMSeg model with AxialRefineHead
    cfg = load_config(axial_run['cfg'])
    model = build_distill_model(cfg, perturbed)
    sample = load_dataset_samples(cfg, 'val', 1)[0]
    s_pred, t_pred = axial_predictions(model, sample)
    frac = float((s_pred != t_pred).mean())
    assert frac > 0
    assert f'differ on {100 * frac:.2f}%' in capsys.readouterr().out
    refine = build_segmentor(with_axial_refine_head(
        get_student_model_cfg(cfg),
        dict(channels=8, num_heads=2, span=16)))
    weights = select_prefix(state, 'architecture.decode_head.',
                            'decode_head.base_head.')
    weights.update(select_prefix(state, 'architecture.backbone.',
                                 'backbone.'))
    weights.update(select_prefix(state, 'distiller.connectors.axial.axial.',
                                 'decode_head.axial.'))
    refine.load_state_dict(weights, strict=True)
    data = dict(inputs=sample.data['inputs'],
                data_samples=[d.clone() for d in sample.data['data_samples']])
    with torch.no_grad():
        expected = refine.test_step(data)[0].pred_sem_seg.data[0].numpy()
    assert (expected == t_pred).all()
    # and the plain student (no refinement) is the student output
    student = build_segmentor(get_student_model_cfg(cfg), checkpoint=perturbed)
    with torch.no_grad():
        plain = student.test_step(dict(
            inputs=sample.data['inputs'],
            data_samples=[d.clone() for d in sample.data['data_samples']]))
    assert (plain[0].pred_sem_seg.data[0].numpy() == s_pred).all()


def test_cfg_options_choose_the_data_root(axial_run, vis_tool, tmp_path):
    """--cfg-options reaches the dataset the figures draw samples from."""
    from mmseg_attnkd.testing import generate_seg_dataset
    other = str(tmp_path / 'other_data')
    generate_seg_dataset(other, num_train=1, num_val=1, size=(H, W),
                         num_classes=4, seed=7)
    out = str(tmp_path / 'vis')
    vis_tool.main(['axial', axial_run['cfg'], axial_run['ckpt'],
                   '--out-dir', out, '--num', '1', '--cfg-options',
                   f'val_dataloader.dataset.data_root={other}'])
    image_panel = _png(osp.join(out, '0000_axial.png'))[BAR:, :W]
    expected = _png(osp.join(other, 'img_dir', 'val', '0000.png'))
    default = _png(osp.join(load_config(axial_run['cfg'])
                            .val_dataloader.dataset.data_root,
                            'img_dir', 'val', '0000.png'))
    assert not np.array_equal(expected, default)
    assert np.array_equal(image_panel, expected)


def test_get_flops_cfg_options(attnfd_run, capsys):
    tool = load_tool('analysis/get_flops.py')
    base = tool.main([attnfd_run['cfg'], '--shape', '32'])
    wider = tool.main([
        attnfd_run['cfg'], '--shape', '32', '--cfg-options',
        'model.architecture.decode_head.num_classes=40'
    ])
    assert wider['teacher'] == base['teacher']
    assert wider['student']['params'] > base['student']['params']


def test_demo_draws_from_its_data_root(vis_tool, tmp_path, monkeypatch):
    """tools/demo.py --data-root X: the figures use X, as the training."""
    demo = load_tool('demo.py')
    calls = []
    monkeypatch.setattr(demo.subprocess, 'run',
                        lambda cmd, **kw: calls.append(cmd))
    work = tmp_path / 'work'
    (work / 'vis').mkdir(parents=True)
    args = demo.argparse.Namespace(work_dir=str(work), num_vis=2,
                                   data_root=str(tmp_path / 'my_data'))
    demo.visualise(dict(attnfd='a.pth', baseline='b.pth', axial_sd='c.pth'),
                   0, args)
    assert len(calls) == 2
    # the AttnFD student is built from the config seed 0 trained with
    assert calls[0][3] == demo.seed_config_path('attnfd', 0, args)
    for cmd in calls:
        parsed = vis_tool.parse_args(cmd[2:])  # after python, the tool
        for loader in ('train', 'val', 'test'):
            assert parsed.cfg_options[f'{loader}_dataloader.dataset.'
                                      'data_root'] == args.data_root
    # training used the same root
    opts = demo.schedule_options(10, args.data_root)
    assert f'val_dataloader.dataset.data_root={args.data_root}' in opts
