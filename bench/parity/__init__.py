# Copyright (c) mmseg-attnkd contributors. All rights reserved.
