# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Figures for distillation results.

* :func:`attention_figures` - teacher and student CBAM spatial attention per
  AttnFD stage overlaid on the image, and the feature maps of the channels
  with the highest channel attention.
* :func:`comparison_figure` - segmentation maps of several models (e.g.
  baseline student, distilled student, teacher) and the ground truth side
  by side in the dataset palette.
* :func:`difference_figure` - two predictions (axial self-distillation:
  student output and teacher output) and the pixels where they differ.

Samples come from :func:`load_image_sample` (a file) or
:func:`load_dataset_samples` (a config's dataloader split). All images are
RGB ``uint8`` arrays of the original image size.
"""
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, NamedTuple, Optional, Sequence

import numpy as np
import torch
import torch.nn as nn

from .attention_maps import StageAttention, collect_cbam_attention
from .drawing import (colorize_mask, difference_map, hstack_panels,
                      overlay_heatmap, vstack_rows)

__all__ = [
    'Sample', 'load_image_sample', 'load_dataset_samples', 'predict_mask',
    'attention_figures', 'comparison_figure', 'difference_figure',
    'axial_predictions'
]


class Sample(NamedTuple):
    """One image to visualise.

    Attributes:
        name: File stem used in output names.
        image: ``[H, W, 3]`` uint8 RGB at original size.
        data: ``dict(inputs=[Tensor[3, h, w]], data_samples=[SegDataSample])``
            as a dataloader yields it (BGR uint8 inputs, pipeline applied).
        gt: ``[H, W]`` ground-truth labels or None.
    """
    name: str
    image: np.ndarray
    data: dict
    gt: Optional[np.ndarray]


def load_image_sample(path: str) -> Sample:
    """A sample from an image file (no ground truth, no pipeline)."""
    import mmcv
    from mmseg.structures import SegDataSample
    if not osp.isfile(path):
        raise FileNotFoundError(f'image {path!r} does not exist')
    bgr = mmcv.imread(path, channel_order='bgr')
    if bgr is None:
        raise ValueError(f'{path!r} is not an image OpenCV can read')
    h, w = bgr.shape[:2]
    sample = SegDataSample(metainfo=dict(
        img_path=path, ori_shape=(h, w), img_shape=(h, w)))
    inputs = torch.from_numpy(np.ascontiguousarray(bgr.transpose(2, 0, 1)))
    return Sample(
        name=osp.splitext(osp.basename(path))[0],
        image=bgr[..., ::-1].copy(),
        data=dict(inputs=[inputs], data_samples=[sample]),
        gt=None)


def load_dataset_samples(cfg,
                         split: str = 'val',
                         num: int = 4,
                         indices: Optional[Sequence[int]] = None
                         ) -> List[Sample]:
    """Samples from ``cfg.{split}_dataloader.dataset``.

    Args:
        cfg: A loaded config with the dataloader.
        split: ``'train'``, ``'val'`` or ``'test'``.
        num: Number of samples (from the start) when ``indices`` is None.
        indices: Explicit sample indices.

    Returns:
        list[Sample]: With ground truth from the dataset's annotations.
    """
    import mmcv
    from mmengine.registry import DefaultScope
    from mmseg.registry import DATASETS

    key = f'{split}_dataloader'
    if key not in cfg or not cfg[key]:
        splits = [k[:-len('_dataloader')] for k in cfg
                  if k.endswith('_dataloader')]
        raise KeyError(f'the config has no {key}; choose --split among '
                       f'{splits}')
    with DefaultScope.overwrite_default_scope('mmseg'):
        dataset = DATASETS.build(cfg[key]['dataset'])
    n = len(dataset)
    indices = list(range(min(num, n))) if indices is None else list(indices)
    bad = [i for i in indices if not 0 <= i < n]
    if bad:
        raise IndexError(f'sample indices {bad} are outside the {split} '
                         f'split of {n} samples')
    samples = []
    for i in indices:
        item = dataset[i]
        data_sample = item['data_samples']
        path = data_sample.metainfo.get('img_path')
        image = mmcv.imread(path, channel_order='rgb') if path else \
            item['inputs'].numpy().transpose(1, 2, 0)[..., ::-1].copy()
        gt = None
        if 'gt_sem_seg' in data_sample:
            gt = data_sample.gt_sem_seg.data.squeeze(0).cpu().numpy()
            gt = _fit(gt, image.shape[:2])
        name = osp.splitext(osp.basename(path))[0] if path else f'{i:05d}'
        samples.append(Sample(
            name=name, image=image, gt=gt,
            data=dict(inputs=[item['inputs']], data_samples=[data_sample])))
    return samples


def _fit(mask: np.ndarray, size) -> np.ndarray:
    """Nearest-neighbour resize of a label map to ``size`` (H, W)."""
    if mask.shape[:2] == tuple(size):
        return mask
    import cv2
    return cv2.resize(mask.astype(np.uint8), (size[1], size[0]),
                      interpolation=cv2.INTER_NEAREST)


def predict_mask(model: nn.Module, sample: Sample) -> np.ndarray:
    """Predicted label map ``[H, W]`` (original image size) of a segmentor.

    The input is copied so repeated calls with several models see the
    same data.
    """
    data = dict(
        inputs=[t.clone() for t in sample.data['inputs']],
        data_samples=[d.clone() for d in sample.data['data_samples']])
    with torch.no_grad():
        out = model.test_step(data)
    pred = out[0].pred_sem_seg.data.squeeze(0).cpu().numpy()
    return _fit(pred.astype(np.int64), sample.image.shape[:2])


def attention_figures(algorithm: nn.Module,
                      sample: Sample,
                      topk: int = 4,
                      alpha: float = 0.5) -> 'OrderedDict[str, np.ndarray]':
    """CBAM attention figures of one sample.

    Args:
        algorithm: Distillation model with a CBAM-connector distiller.
        sample: The image.
        topk: Channels with the highest channel attention to show.
        alpha: Heat-map opacity.

    Returns:
        OrderedDict: ``{file name: RGB image}``:

        * ``{name}_stage{i}_{side}_spatial.png``: spatial attention over
          the image, image size ``[H, W, 3]``;
        * ``{name}_stage{i}_{side}_channels.png``: the ``topk`` channel
          maps with the highest channel attention, titled;
        * ``{name}_attention.png``: all stages in one sheet (rows = stages,
          columns = image, teacher, student).
    """
    data = dict(
        inputs=[t.clone() for t in sample.data['inputs']],
        data_samples=[d.clone() for d in sample.data['data_samples']])
    with torch.no_grad():
        inputs = algorithm.data_preprocessor(data, False)['inputs']
    maps = collect_cbam_attention(algorithm, inputs)
    figures: 'OrderedDict[str, np.ndarray]' = OrderedDict()
    by_stage: Dict[int, Dict[str, StageAttention]] = OrderedDict()
    for att in maps:
        by_stage.setdefault(att.stage, {})[att.side] = att
        spatial = overlay_heatmap(sample.image,
                                  att.spatial_att[0, 0].cpu().numpy(),
                                  alpha=alpha, normalize=True)
        prefix = f'{sample.name}_stage{att.stage}_{att.side}'
        figures[f'{prefix}_spatial.png'] = spatial
        weights = att.channel_att[0, :, 0, 0].cpu()
        k = max(1, min(topk, weights.numel()))
        top = torch.topk(weights, k).indices.tolist()
        panels = [
            overlay_heatmap(sample.image, att.feature[0, c].cpu().numpy(),
                            alpha=alpha) for c in top
        ]
        titles = [f'ch{c} w={weights[c]:.2f}' for c in top]
        figures[f'{prefix}_channels.png'] = hstack_panels(panels, titles)
    rows = []
    for stage, sides in by_stage.items():
        panels, titles = [sample.image], [f'stage {stage}']
        for side in ('teacher', 'student'):
            if side in sides:
                att = sides[side]
                panels.append(figures[
                    f'{sample.name}_stage{stage}_{side}_spatial.png'])
                titles.append(f'{side} {att.module}')
        rows.append(hstack_panels(panels, titles))
    figures[f'{sample.name}_attention.png'] = vstack_rows(rows)
    return figures


def comparison_figure(sample: Sample,
                      predictions: 'OrderedDict[str, np.ndarray]',
                      palette=None,
                      ignore_index: int = 255) -> np.ndarray:
    """Image, each model's prediction and the ground truth side by side.

    Args:
        sample: The image (its ``gt`` is appended when present).
        predictions: ``{title: [H, W] label map}`` in display order, e.g.
            baseline student, distilled student, teacher.
        palette: Dataset palette ``[K, 3]``.
        ignore_index: Void label (drawn black).

    Returns:
        np.ndarray: ``[H + 14, n * W + 2 * (n - 1), 3]`` uint8 RGB with
        ``n = 1 + len(predictions) + (gt is not None)`` titled panels.
    """
    panels, titles = [sample.image], ['image']
    for title, pred in predictions.items():
        panels.append(colorize_mask(pred, palette, ignore_index))
        titles.append(title)
    if sample.gt is not None:
        panels.append(colorize_mask(sample.gt, palette, ignore_index))
        titles.append('ground truth')
    return hstack_panels(panels, titles)


def difference_figure(sample: Sample,
                      student_pred: np.ndarray,
                      teacher_pred: np.ndarray,
                      palette=None,
                      ignore_index: int = 255,
                      names=('student output', 'teacher output')):
    """Student output, teacher output and where they differ.

    Returns:
        tuple: The figure ``[H + 14, 4 * W + 6, 3]`` (image, student,
        teacher, differences in magenta) and the fraction of differing
        pixels.
    """
    diff, frac = difference_map(sample.image, student_pred, teacher_pred)
    panels = [
        sample.image,
        colorize_mask(student_pred, palette, ignore_index),
        colorize_mask(teacher_pred, palette, ignore_index), diff
    ]
    titles = ['image', names[0], names[1], f'differ {100 * frac:.1f}%']
    return hstack_panels(panels, titles), frac


def _decode_head_of(distiller, student: nn.Module) -> nn.Module:
    name = getattr(distiller, 'head_name', 'decode_head')
    return student.get_submodule(name)


@torch.no_grad()
def axial_predictions(algorithm: nn.Module, sample: Sample):
    """Student and teacher predictions of axial self-distillation.

    Runs the student once with the distiller's recorders on and reads
    ``distiller.student_output()`` (decode-head logits) and
    ``distiller.teacher_output()`` (the same logits refined by the axial
    connector), exactly as in training; both are turned into label maps by
    the head's ``predict_by_feat`` and the segmentor's
    ``postprocess_result`` (whole-image inference).

    Returns:
        tuple: ``(student_pred, teacher_pred)``, ``[H, W]`` label maps at
        the original image size.
    """
    distiller = getattr(algorithm, 'distiller', None)
    if distiller is None or not all(
            hasattr(distiller, a) for a in ('student_output',
                                            'teacher_output')):
        raise ValueError(
            f'{type(distiller).__name__}: the '
            'axial view needs an axial self-distillation model '
            '(SelfDistill + AxialSelfDistiller); pass its config and '
            'checkpoint.')
    student = algorithm.student
    data = dict(
        inputs=[t.clone() for t in sample.data['inputs']],
        data_samples=[d.clone() for d in sample.data['data_samples']])
    data = algorithm.data_preprocessor(data, False)
    inputs, data_samples = data['inputs'], data['data_samples']
    was_training = algorithm.training
    algorithm.eval()
    try:
        with distiller.student_recorders, distiller.teacher_recorders:
            student(inputs, None, mode='tensor')
        logits = dict(student=distiller.student_output(),
                      teacher=distiller.teacher_output())
    finally:
        algorithm.train(was_training)
    head = _decode_head_of(distiller, student)
    metas = [d.metainfo for d in data_samples]
    preds = {}
    for side, value in logits.items():
        seg = head.predict_by_feat(value, metas)
        out = student.postprocess_result(seg, [d.clone() for d in
                                               data_samples])
        pred = out[0].pred_sem_seg.data.squeeze(0).cpu().numpy()
        preds[side] = _fit(pred.astype(np.int64), sample.image.shape[:2])
    return preds['student'], preds['teacher']
