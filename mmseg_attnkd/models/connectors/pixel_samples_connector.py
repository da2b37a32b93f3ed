# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Turn dense predictions into a batch of per-pixel predictions."""
from mmrazor.models.architectures.connectors.base_connector import \
    BaseConnector
from mmrazor.registry import MODELS
from torch import Tensor

__all__ = ['PixelSamplesConnector']


@MODELS.register_module()
class PixelSamplesConnector(BaseConnector):
    """``[N, C, H, W]`` -> ``[N*H*W, C]``: every pixel becomes a sample.

    Lets classification losses that relate samples to each other act on
    segmentation logits per pixel, e.g. MMRazor's ``DISTLoss`` (Huang et
    al., "Knowledge Distillation from A Stronger Teacher", NeurIPS 2022),
    whose intra-class relation then correlates each class over all pixels
    of the batch instead of over the ``N`` images of one pixel position.
    No parameters.

    Shapes:
        - input: ``[N, C, H, W]``
        - output: ``[N*H*W, C]``
    """

    def forward_train(self, feature: Tensor) -> Tensor:
        """Flatten ``[N, C, H, W]`` to ``[N*H*W, C]``."""
        if feature.dim() != 4:
            raise ValueError('PixelSamplesConnector expects [N, C, H, W], '
                             f'got {tuple(feature.shape)}.')
        return feature.permute(0, 2, 3, 1).reshape(-1, feature.shape[1])
