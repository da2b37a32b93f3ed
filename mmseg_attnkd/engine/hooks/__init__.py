# Copyright (c) mmseg-attnkd contributors. All rights reserved.
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .channels_last_hook import ChannelsLastHook
from .crop_size_check_hook import CropSizeCheckHook
from .nonfinite_loss_hook import NonFiniteLossHook
from .random_state_hook import RandomStateHook

__all__ = ['AtomicCheckpointHook', 'ChannelsLastHook', 'CropSizeCheckHook',
           'NonFiniteLossHook', 'RandomStateHook']
