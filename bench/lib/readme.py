# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Generated README sections: tables are copied, never typed.

``python -m bench.lib.readme`` copies every ``bench/results/<name>.md`` of
:data:`README_SECTIONS` into ``bench/README.md``.
"""
import os.path as osp
import re
from typing import List

from bench.lib.paths import README, RESULTS_DIR


def update_readme(section: str, markdown: str, readme: str = README) -> bool:
    """Replace the text between ``<!-- BEGIN section -->`` and ``END``.

    Returns:
        bool: Whether the README has that section (it is left alone if not).
    """
    from mmseg_attnkd.release.markdown_blocks import rewrite_blocks
    if not osp.isfile(readme):
        return False
    begin, end = f'<!-- BEGIN {section} -->', f'<!-- END {section} -->'
    with open(readme) as f:
        text = f.read()
    if begin not in text or end not in text:
        return False
    rewrite_blocks(readme, re.escape(begin), end, lambda _: markdown.strip())
    return True


#: README sections filled from ``bench/results/<name>.md``.
README_SECTIONS = ('overhead_cpu', 'parity', 'parity_stride2', 'axial_scaling',
                   'accuracy_cpu', 'accuracy_gpu', 'sd_loss_terms_camvid_cpu',
                   'sd_loss_terms_sstem_cpu', 'sd_loss_terms_camvid_v2_cpu',
                   'sd_loss_terms_sstem_v2_cpu', 'speed_cpu', 'camvid_v2_cpu',
                   'sstem_sd_v2_cpu')


def refresh_readme(readme: str = README) -> List[str]:
    """Copy every ``bench/results/<section>.md`` into the README.

    Returns:
        list[str]: Sections that were updated.
    """
    done = []
    for name in README_SECTIONS:
        path = osp.join(RESULTS_DIR, f'{name}.md')
        if osp.isfile(path):
            with open(path) as f:
                if update_readme(name, f.read(), readme):
                    done.append(name)
    return done


if __name__ == '__main__':
    print('updated README sections:', refresh_readme())
