# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Raw dataset releases -> MMSeg layout (used by tools/dataset_converters)."""
from .camvid import convert_camvid, read_segnet_split, segnet_to_mmseg_label
from .drosophila_sstem import (convert_drosophila_sstem, find_sstem_sections,
                               sstem_grey_to_class, tile_origins)
from .io_utils import parse_index_ranges, select_evenly
from .medseg_covid import (LUNG_WINDOW, convert_medseg_nifti,
                           convert_medseg_slices, find_nifti_pairs,
                           remap_medseg_mask, window_ct)

__all__ = [
    'convert_camvid', 'read_segnet_split', 'segnet_to_mmseg_label',
    'convert_drosophila_sstem', 'find_sstem_sections', 'sstem_grey_to_class',
    'tile_origins', 'parse_index_ranges', 'select_evenly', 'LUNG_WINDOW',
    'convert_medseg_nifti', 'convert_medseg_slices', 'find_nifti_pairs',
    'remap_medseg_mask', 'window_ct'
]
