# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""What the studies share: paths, machine and output helpers, and the
benchmark models read from ``configs/`` (:mod:`.common`), resumable runs
(:mod:`.runs`), seed statistics (:mod:`.stats`), timing statistics
(:mod:`.timing`), the teacher's plain weights (:mod:`.teacher`) and the
generated README sections (:mod:`.readme`)."""
