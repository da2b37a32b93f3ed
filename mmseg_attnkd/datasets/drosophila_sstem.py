# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Drosophila ssTEM (ventral nerve cord, 5 classes).

Reference: S. Gerhard, J. Funke, J. Martel, A. Cardona, R. Fetter,
"Segmented anisotropic ssTEM dataset of neural tissue", figshare, 2013,
doi:10.6084/m9.figshare.856713. Licence of the data: CC BY-NC-SA 3.0.
"""
from mmseg.registry import DATASETS

from .checked_seg_dataset import CheckedSegDataset

#: Class names in label-index order.
SSTEM_CLASSES = ('membrane', 'glia/extracellular', 'mitochondria', 'synapse',
                 'intracellular')

#: Grey value in the release's label PNGs -> class index. 0/32/64/96 are
#: membranes at four orientations and 128 membrane junctions; all are
#: "membrane" here.
SSTEM_GREY_TO_CLASS = {
    0: 0, 32: 0, 64: 0, 96: 0, 128: 0,
    159: 1,
    191: 2,
    223: 3,
    255: 4,
}

#: Display colours (our choice; the release has none).
SSTEM_PALETTE = [[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200],
                 [90, 90, 90]]


@DATASETS.register_module()
class DrosophilaSSTEMDataset(CheckedSegDataset):
    """Drosophila ssTEM sections in MMSeg layout.

    Expected layout, written by
    ``tools/dataset_converters/drosophila_sstem.py``::

        data_root/img_dir/{train,test}/section<NN>[_y<Y>_x<X>].png  grey
        data_root/ann_dir/{train,test}/section<NN>[_y<Y>_x<X>].png  uint8
                                                      (H, W), values 0..4

    Images are 8-bit greyscale; MMSeg's ``LoadImageFromFile`` reads them as
    3-channel, so standard backbones apply unchanged.

    Args:
        img_suffix: Image suffix. Default ``'.png'``.
        seg_map_suffix: Label suffix. Default ``'.png'``.
        **kwargs: See :class:`CheckedSegDataset` / ``BaseSegDataset``.
    """
    METAINFO = dict(classes=SSTEM_CLASSES, palette=SSTEM_PALETTE)
    CONVERTER = 'tools/dataset_converters/drosophila_sstem.py'
    IMG_SUFFIX = '.png'
