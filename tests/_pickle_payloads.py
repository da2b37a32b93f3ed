# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""A malicious pickle for the tests that a checkpoint load refuses it."""


class FileCreatingPayload:
    """Unpickling it would create the file ``path`` (proof that the pickle
    ran code): a safe load must raise before that file exists."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, 'w'))
