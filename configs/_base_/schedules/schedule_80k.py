# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# MMSeg's default runtime and 80k-iteration schedule with the package's hooks
# (../safe_hooks.py) and crash-safe checkpoints (write, then rename).
_base_ = [
    'mmseg::_base_/default_runtime.py',
    'mmseg::_base_/schedules/schedule_80k.py', '../safe_hooks.py'
]
default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
