# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""What the axial-scaling benchmark compares: the blocks and the modes."""



BLOCKS = ('axial', 'full')


MODES = ('train', 'infer')
