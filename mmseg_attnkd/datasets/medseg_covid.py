# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""MedSeg COVID-19 CT segmentation (4 classes, and the 3-class variant).

Data: "COVID-19 CT segmentation dataset" by MedSeg (H. B. Jenssen, Oslo
University Hospital, and colleagues), axial CT slices annotated by a
radiologist with ground-glass opacity, consolidation and pleural effusion.

Two registered datasets:

* :class:`MedSegCovidCTDataset` - background, ground-glass opacity,
  consolidation, pleural effusion (label values 0..3);
* :class:`MedSegCovidCT3ClassDataset` - background, ground-glass opacity,
  consolidation (0..2): the variant used by most papers (e.g. Inf-Net, Fan
  et al., IEEE TMI 2020), where pleural effusion is not a target. Produce
  it with ``tools/dataset_converters/medseg_covid.py --three-class``, which
  maps pleural effusion to background (default) or to the ignore index
  (``--effusion-to ignore``).
"""
from mmseg.registry import DATASETS

from .checked_seg_dataset import CheckedSegDataset

MEDSEG_CLASSES = ('background', 'ground-glass opacity', 'consolidation',
                  'pleural effusion')
MEDSEG_PALETTE = [[0, 0, 0], [0, 170, 255], [255, 170, 0], [170, 0, 255]]


class _MedSegCovidBase(CheckedSegDataset):
    CONVERTER = 'tools/dataset_converters/medseg_covid.py'
    IMG_SUFFIX = '.png'
    ZERO_IS_CLASS = ('make background (index 0) void, so background pixels '
                     'would be ignored. Keep it False.')


@DATASETS.register_module()
class MedSegCovidCTDataset(_MedSegCovidBase):
    """MedSeg COVID-19 CT slices, 4 classes, in MMSeg layout.

    Expected layout, written by ``tools/dataset_converters/medseg_covid.py``::

        data_root/img_dir/{train,val}/<case>_<slice>.png  grey, lung window
        data_root/ann_dir/{train,val}/<case>_<slice>.png  uint8 (H, W),
                                                          values 0..3

    Args:
        **kwargs: See :class:`CheckedSegDataset` / ``BaseSegDataset``.
    """
    METAINFO = dict(classes=MEDSEG_CLASSES, palette=MEDSEG_PALETTE)


@DATASETS.register_module()
class MedSegCovidCT3ClassDataset(_MedSegCovidBase):
    """MedSeg COVID-19 CT, 3 classes (no pleural effusion).

    Same layout as :class:`MedSegCovidCTDataset` but label values 0..2 (and
    255 if effusion was converted to void); convert with ``--three-class``.
    Pointing it at 4-class data is caught by ``check_labels=True`` or
    ``tools/dataset_converters/check_dataset.py`` (value 3 is out of range).

    Args:
        **kwargs: See :class:`CheckedSegDataset` / ``BaseSegDataset``.
    """
    METAINFO = dict(classes=MEDSEG_CLASSES[:3], palette=MEDSEG_PALETTE[:3])
