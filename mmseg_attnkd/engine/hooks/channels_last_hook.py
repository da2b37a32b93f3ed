# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Train in channels-last (NHWC) memory format.

oneDNN (CPU) and cuDNN (tensor cores) prefer NHWC for convolutions; a
convolution whose weight is channels-last returns channels-last output, so
converting the parameters once is enough for the whole network (student,
teacher and connectors of a distillation alike). ``tools/train.py
--channels-last`` adds this hook; the measured effect is in
``bench/README.md`` (it is not a default because it is not faster
everywhere).
"""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS

__all__ = ['ChannelsLastHook']


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Convert the model to ``torch.channels_last`` before training.

    Parameters keep their identity (``Module.to`` assigns ``param.data``),
    so the optimizer built before ``before_train`` keeps working, and a
    resumed checkpoint is copied into the converted tensors.
    """

    priority = 'VERY_HIGH'

    def before_train(self, runner) -> None:  # noqa: D102
        model = runner.model.module if is_model_wrapper(runner.model) \
            else runner.model
        model.to(memory_format=torch.channels_last)
        runner.logger.info('ChannelsLastHook: model parameters are in '
                           'channels_last memory format.')
