# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Datasets registered in MMSeg's ``DATASETS``, with build-time checks.

Converters from the raw releases live in :mod:`.converters`; they are
command-line only (front ends in ``tools/dataset_converters/``), so this
package does not import them.
"""
from .camvid import CAMVID_CLASSES, CAMVID_PALETTE, CamVidDataset
from .checked_seg_dataset import CheckedSegDataset
from .drosophila_sstem import (SSTEM_CLASSES, SSTEM_GREY_TO_CLASS,
                               SSTEM_PALETTE, DrosophilaSSTEMDataset)
from .label_checks import (check_label_array, check_label_file,
                           check_seg_dataset, find_bad_label_values)
from .medseg_covid import (MEDSEG_CLASSES, MEDSEG_PALETTE,
                           MedSegCovidCT3ClassDataset, MedSegCovidCTDataset)

__all__ = [
    # datasets
    'CheckedSegDataset', 'CamVidDataset', 'DrosophilaSSTEMDataset',
    'MedSegCovidCTDataset', 'MedSegCovidCT3ClassDataset',
    # class names and colours
    'CAMVID_CLASSES', 'CAMVID_PALETTE', 'SSTEM_CLASSES', 'SSTEM_GREY_TO_CLASS',
    'SSTEM_PALETTE', 'MEDSEG_CLASSES', 'MEDSEG_PALETTE',
    # label checks
    'check_label_array', 'check_label_file', 'check_seg_dataset',
    'find_bad_label_values'
]
