# Copyright (c) mmseg-attnkd contributors. All rights reserved.
# The package's training hooks: a crop-size pre-flight check, a stop at the
# first NaN loss and exact resumes (random states saved). A config that
# inherits this also sets
#   default_hooks = dict(checkpoint=dict(type='AtomicCheckpointHook'))
# for crash-safe checkpoints (write, then rename); ./schedules/ do.
custom_hooks = [dict(type='CropSizeCheckHook'),
                dict(type='NonFiniteLossHook'),
                dict(type='RandomStateHook')]
