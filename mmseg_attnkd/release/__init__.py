# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Release tooling behind ``tools/publish_model.py``,
``tools/download_model.py``, ``tools/misc/zoo_results.py`` and
``tools/misc/gen_model_zoo_table.py``;
command-line only.

``import mmseg_attnkd`` does not load this package; the tools import it
when they run.

* :mod:`.publish` - OpenMMLab release names, hashes, training logs, metrics;
* :mod:`.model_zoo` - ``configs/*/metafile.yml`` and the README tables;
* :mod:`.download` - fetching a released file, checked against its name;
* :mod:`.evaluate` - metafile ``Results`` measured on the released file;
* :mod:`.markdown_blocks` - generated blocks between Markdown markers.
"""
from . import download, evaluate, markdown_blocks, model_zoo, publish

__all__ = ['download', 'evaluate', 'markdown_blocks', 'model_zoo', 'publish']
