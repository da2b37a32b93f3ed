# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""A preprocessed segmentation batch whose labels are visible in the image."""
from typing import Dict, List, Tuple

import torch

__all__ = ['seg_batch', 'loss_step']


def seg_batch(model,
              num_classes: int,
              batch_size: int = 2,
              size: int = 64,
              seed: int = 0,
              training: bool = True) -> Tuple[torch.Tensor, List]:
    """Random labels drawn into uint8 images, run through the model's
    data preprocessor.

    Args:
        model: Anything with an MMSeg ``data_preprocessor``.
        num_classes: Labels are drawn from ``[0, num_classes)``.
        batch_size: Images in the batch.
        size: Square image side.
        seed: Seed of a private generator (the global RNG is untouched).
        training: Passed to the preprocessor.

    Returns:
        tuple: ``inputs`` ``(N, 3, size, size)`` and the data samples.
    """
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for _ in range(batch_size):
        label = torch.randint(0, num_classes, (1, size, size), generator=g)
        img = (label.float() * 60 + torch.rand(3, size, size, generator=g) *
               40).clamp(0, 255).to(torch.uint8)
        sample = SegDataSample(
            metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                          pad_shape=(size, size), padding_size=[0, 0, 0, 0]))
        sample.gt_sem_seg = PixelData(data=label)
        inputs.append(img)
        samples.append(sample)
    data = model.data_preprocessor(
        dict(inputs=inputs, data_samples=samples), training=training)
    return data['inputs'], data['data_samples']


def loss_step(model, inputs: torch.Tensor, data_samples: List,
              optimizer: torch.optim.Optimizer
              ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """One optimizer step on the sum of the model's ``loss`` terms (the
    entries whose name contains ``loss``).

    Returns:
        tuple: The summed loss and the model's loss dict.
    """
    losses = model(inputs, data_samples, mode='loss')
    total = sum(v for k, v in losses.items() if 'loss' in k)
    optimizer.zero_grad()
    total.backward()
    optimizer.step()
    return total, losses
