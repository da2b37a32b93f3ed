# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""What the studies share: paths, machine and output helpers
(:mod:`.common`), benchmark model configs (:mod:`.models`), resumable runs
(:mod:`.runs`), seed statistics (:mod:`.stats`), timing statistics
(:mod:`.timing`), the teacher's plain weights (:mod:`.teacher`) and the
generated README sections (:mod:`.readme`)."""
