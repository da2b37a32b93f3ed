# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""``BaseSegDataset`` that fails early, with a clear message, on bad data."""
import os.path as osp
from typing import List, Optional

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .label_checks import check_seg_dataset, format_missing


@DATASETS.register_module()
class CheckedSegDataset(BaseSegDataset):
    """MMSeg ``BaseSegDataset`` with build-time checks.

    When the sample list is loaded (at build time unless ``lazy_init``), it
    checks that

    * ``data_root`` (if given) and the image folder exist and hold at least
      one image with ``img_suffix``;
    * every image has its label file (the error names the missing ones);
    * with ``check_labels=True``: every label value is a class index or the
      ignore index, and every label has its image's size. This reads every
      label once, so it is off by default; ``tools/dataset_converters/
      check_dataset.py`` runs the same check on demand.

    Subclasses set ``METAINFO``, ``CONVERTER`` (the tool that produces
    the expected layout, quoted in error messages), ``IMG_SUFFIX`` (the
    default ``img_suffix``) and, when index 0 is a real class,
    ``ZERO_IS_CLASS`` (``reduce_zero_label=True`` is then refused).

    Args:
        check_labels: Check label values and sizes at load time.
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset`.
    """

    #: Tool that writes this dataset's layout; quoted in error messages.
    CONVERTER: str = 'tools/dataset_converters/'
    #: Default ``img_suffix`` (MMSeg's is ``'.jpg'``).
    IMG_SUFFIX: str = '.jpg'
    #: What ``reduce_zero_label=True`` would break because index 0 is a
    #: class, quoted when it is refused; None accepts the option.
    ZERO_IS_CLASS: Optional[str] = None

    def __init__(self, *args, check_labels: bool = False, **kwargs) -> None:
        if kwargs.get('reduce_zero_label') and self.ZERO_IS_CLASS:
            raise ValueError(
                f'{type(self).__name__}: reduce_zero_label=True would '
                f'{self.ZERO_IS_CLASS}')
        kwargs.setdefault('img_suffix', self.IMG_SUFFIX)
        self.check_labels = check_labels
        super().__init__(*args, **kwargs)

    def _fix_hint(self) -> str:
        return (f'Produce the MMSeg layout (img_dir/<split>, ann_dir/<split>) '
                f'with {self.CONVERTER} and point data_root/data_prefix at '
                'it.')

    def load_data_list(self) -> List[dict]:
        """Load the sample list after checking folders and file pairs.

        Returns:
            list[dict]: One dict per sample with ``img_path`` and, when a
            label folder is configured, ``seg_map_path``.
        """
        name = type(self).__name__
        if self.data_root and not osp.isdir(self.data_root):
            raise FileNotFoundError(
                f'{name}: data_root {self.data_root!r} does not exist. '
                f'{self._fix_hint()}')
        img_dir = self.data_prefix.get('img_path', None)
        use_list = bool(self.ann_file) and not osp.isdir(self.ann_file)
        if not use_list:
            if not img_dir or not osp.isdir(img_dir):
                raise FileNotFoundError(
                    f'{name}: image folder {img_dir!r} does not exist. '
                    f'{self._fix_hint()}')
        elif not osp.isfile(self.ann_file):
            raise FileNotFoundError(
                f'{name}: ann_file {self.ann_file!r} does not exist. Give '
                'the path of a split file listing image names without '
                'suffix, or ann_file=\'\' to use every image in the folder.')
        data_list = super().load_data_list()
        if not data_list:
            where = self.ann_file if use_list else img_dir
            raise FileNotFoundError(
                f'{name}: no images ending in {self.img_suffix!r} found in '
                f'{where!r} (is the folder empty, or is img_suffix wrong?). '
                f'{self._fix_hint()}')
        missing_img = [d['img_path'] for d in data_list
                       if not osp.isfile(d['img_path'])]
        if missing_img:
            raise FileNotFoundError(
                f'{name}: {len(missing_img)} image(s) listed in '
                f'{self.ann_file!r} do not exist: '
                f'{format_missing(missing_img)}. Fix the split file or '
                're-run the converter.')
        missing = [d['img_path'] for d in data_list
                   if 'seg_map_path' in d
                   and not osp.isfile(d['seg_map_path'])]
        if missing:
            example = next(d['seg_map_path'] for d in data_list
                           if d['img_path'] == missing[0])
            raise FileNotFoundError(
                f'{name}: {len(missing)} image(s) have no label file: '
                f'{format_missing(missing)} (expected e.g. {example}, '
                f'seg_map_suffix={self.seg_map_suffix!r}). Add the labels, '
                'remove the unlabelled images, or fix seg_map_suffix. '
                f'{self._fix_hint()}')
        return data_list

    def full_init(self) -> None:
        """Load the samples, then run the optional label-value check."""
        was_initialized = self._fully_initialized
        super().full_init()
        if self.check_labels and not was_initialized:
            check_seg_dataset(self)

