# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""CamVid with the 11 classes of the SegNet release.

Reference: G. J. Brostow, J. Fauqueur, R. Cipolla, "Semantic object classes
in video: A high-definition ground truth database", Pattern Recognition
Letters 30(2), 2009. The 11-class split (367 train / 101 val / 233 test at
480x360) is the one distributed with the SegNet tutorial (Badrinarayanan et
al., TPAMI 2017). Licence of the data: CC BY-NC 4.0.
"""
from mmseg.registry import DATASETS

from .checked_seg_dataset import CheckedSegDataset

#: Class names in label-index order (SegNet release, index 11 = void).
CAMVID_CLASSES = ('Sky', 'Building', 'Pole', 'Road', 'Pavement', 'Tree',
                  'SignSymbol', 'Fence', 'Car', 'Pedestrian', 'Bicyclist')

#: RGB colours of the classes above, read once from the palette image that
#: ships with the SegNet release (``palette_camvid11.png``); void is black.
CAMVID_PALETTE = [[128, 128, 128], [128, 0, 0], [192, 192, 128],
                  [128, 64, 128], [60, 40, 222], [128, 128, 0],
                  [192, 128, 128], [64, 64, 128], [64, 0, 128], [64, 64, 0],
                  [0, 128, 192]]

#: Label value of "Unlabelled" in the SegNet release; the converter maps it
#: to the ignore index 255.
CAMVID_SEGNET_VOID = 11


@DATASETS.register_module()
class CamVidDataset(CheckedSegDataset):
    """CamVid (11 classes) in MMSeg layout.

    Expected layout, written by ``tools/dataset_converters/camvid.py``::

        data_root/img_dir/{train,val}/<name>.png   RGB, 480x360 (or scaled)
        data_root/ann_dir/{train,val}/<name>.png   uint8 (H, W), values
                                                    0..10 and 255 (void)

    Args:
        img_suffix: Image suffix. Default ``'.png'``.
        seg_map_suffix: Label suffix. Default ``'.png'``.
        reduce_zero_label: Must stay False: index 0 is Sky, not void.
        **kwargs: See :class:`CheckedSegDataset` / ``BaseSegDataset``.
    """
    METAINFO = dict(classes=CAMVID_CLASSES, palette=CAMVID_PALETTE)
    CONVERTER = 'tools/dataset_converters/camvid.py'
    IMG_SUFFIX = '.png'
    ZERO_IS_CLASS = ('turn Sky (index 0) into void. Keep it False; the '
                     'converter already maps void (11) to 255.')
