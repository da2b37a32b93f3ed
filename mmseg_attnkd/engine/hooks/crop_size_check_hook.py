# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Refuse a ``RandomCrop`` larger than the training images before step 1.

MMSeg's ``RandomCrop`` silently returns the whole image when it is smaller
than ``crop_size``; ``SegDataPreProcessor`` then pads it back to the crop
with ``seg_pad_val`` (ignored pixels). Training runs, but part of every
batch is padding and a config meant for another dataset goes unnoticed.
"""
from typing import List, Optional, Sequence, Tuple

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS

from .random_state_hook import get_random_state, set_random_state

__all__ = ['CropSizeCheckHook', 'check_crop_size']

#: Transforms that change the image scale before the crop.
_RESIZE_WORDS = ('Resize', 'Rescale')


def _base_dataset(dataset):
    """Unwrap ``RepeatDataset``/``ConcatDataset``/``ClassBalancedDataset``."""
    seen = 0
    while seen < 8:
        if hasattr(dataset, 'pipeline') and hasattr(dataset,
                                                    'get_data_info'):
            return dataset
        inner = getattr(dataset, 'dataset', None)
        if inner is None:
            inner = (getattr(dataset, 'datasets', None) or [None])[0]
        if inner is None:
            return None
        dataset, seen = inner, seen + 1
    return None


def _crop_size(transform) -> Optional[Tuple[int, int]]:
    size = getattr(transform, 'crop_size', None)
    if size is None:
        return None
    if isinstance(size, int):
        return size, size
    return int(size[0]), int(size[1])


def check_crop_size(dataset,
                    num_samples: int = 4) -> List[Tuple[str, Tuple[int, int]]]:
    """Compare the first images of ``dataset`` with its ``RandomCrop``.

    The transforms before the first transform that has a ``crop_size``
    (MMSeg's ``RandomCrop``) are run on the first ``num_samples`` samples.
    Python, NumPy and torch random states are saved and restored, so the
    check does not change the training run.

    Args:
        dataset: An MMSeg dataset (or a wrapper of one) with a pipeline.
        num_samples: How many samples to check.

    Returns:
        list[tuple[str, tuple[int, int]]]: ``(image path, (H, W))`` of every
        checked sample smaller than the crop in height or width.

    Raises:
        ValueError: No resize transform precedes the crop and a sample is
            smaller than ``crop_size`` (message names the file, its size,
            the crop and the fix).
    """
    base = _base_dataset(dataset)
    if base is None or len(base) == 0:
        return []
    transforms: Sequence = getattr(base.pipeline, 'transforms', [])
    crop_at = next((i for i, t in enumerate(transforms)
                    if _crop_size(t) is not None), None)
    if crop_at is None:
        return []
    crop_h, crop_w = _crop_size(transforms[crop_at])
    before = transforms[:crop_at]
    resized = any(
        any(w in type(t).__name__ for w in _RESIZE_WORDS) for t in before)

    states = get_random_state()
    small = []
    try:
        for idx in range(min(num_samples, len(base))):
            results = base.get_data_info(idx)
            for t in before:
                results = t(results)
                if results is None:
                    break
            if results is None or 'img' not in results:
                continue
            h, w = results['img'].shape[:2]
            if h < crop_h or w < crop_w:
                small.append((str(results.get('img_path', idx)), (h, w)))
    finally:
        set_random_state(states)

    if small and not resized:
        path, (h, w) = small[0]
        raise ValueError(
            f'RandomCrop crop_size=({crop_h}, {crop_w}) (H, W) is larger '
            f'than the training image {path} ({h}x{w}); {len(small)} of the '
            f'first {min(num_samples, len(base))} images are smaller than '
            'the crop, so every batch would be mostly padding with ignored '
            f'labels. Fix: set crop_size <= ({h}, {w}) in the train '
            'pipeline RandomCrop and in model.data_preprocessor.size, or add '
            'a RandomResize before RandomCrop that scales the images up.')
    if small and len(small) == min(num_samples, len(base)):
        print_log(
            f'All {len(small)} checked training images are smaller than '
            f'RandomCrop crop_size=({crop_h}, {crop_w}) after resizing '
            f'(e.g. {small[0][0]}: {small[0][1]}); batches will be padded '
            'with ignored pixels. Check the resize scale and the crop.',
            logger='current', level=30)
    return small


@HOOKS.register_module()
class CropSizeCheckHook(Hook):
    """Check the train pipeline's crop against real images in ``before_train``.

    Runs before the first iteration (on every rank, so each rank fails the
    same way); see :func:`check_crop_size`. Add it with::

        custom_hooks = [dict(type='CropSizeCheckHook')]

    Args:
        num_samples: How many training samples to load. Defaults to 4.
    """

    priority = 'VERY_HIGH'

    def __init__(self, num_samples: int = 4) -> None:
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(
                f'CropSizeCheckHook: num_samples must be an int >= 1, got '
                f'{num_samples!r}.')
        self.num_samples = num_samples

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        dataset = getattr(loader, 'dataset', None)
        if dataset is not None:
            check_crop_size(dataset, self.num_samples)
