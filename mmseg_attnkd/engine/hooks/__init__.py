# Copyright (c) mmseg-attnkd contributors. All rights reserved.
from .atomic_checkpoint_hook import AtomicCheckpointHook
from .crop_size_check_hook import CropSizeCheckHook

__all__ = ['AtomicCheckpointHook', 'CropSizeCheckHook']
