# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Run the family matrix and print its table, or write it into a doc.

    python tools/analysis/family_matrix.py                 # print
    python tools/analysis/family_matrix.py --write docs/families.md

Every decode head type registered in MMSeg (one shipped config each) under
axial self-distillation, and the teacher/student pairs of
``mmseg_attnkd.testing.family_matrix.PAIRS`` under AttnFD
``stages='auto'`` and CWD; two CPU training steps per row (about 10
minutes on one core). The table goes between ``<!-- families:start -->``
and ``<!-- families:end -->``.
"""
import argparse
import time
import os.path as osp
import re
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

START, END = '<!-- families:start -->', '<!-- families:end -->'


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--write', metavar='DOC',
                        help=f'replace the part between {START} and {END}')
    parser.add_argument('--only', choices=['axial-sd', 'pairs'],
                        help='run one part of the matrix')
    args = parser.parse_args(argv)

    import mmseg_attnkd  # noqa: F401
    from mmseg_attnkd.testing.family_matrix import (PAIRS, axial_sd_row,
                                                    decode_head_types,
                                                    pair_row, render_table)
    rows = []
    if args.only in (None, 'axial-sd'):
        for head in decode_head_types():
            start = time.time()
            rows.append(axial_sd_row(head))
            print(f'{rows[-1].method} {head}: {rows[-1].outcome} '
                  f'({time.time() - start:.1f} s) {rows[-1].message[:300]}',
                  file=sys.stderr, flush=True)
    if args.only in (None, 'pairs'):
        for method in ('attnfd-auto', 'cwd'):
            for teacher, student in PAIRS:
                start = time.time()
                rows.append(pair_row(method, teacher, student))
                print(f'{method} {rows[-1].name}: {rows[-1].outcome} '
                      f'({time.time() - start:.1f} s) '
                      f'{rows[-1].message[:300]}', file=sys.stderr,
                      flush=True)
    table = render_table(rows)
    if not args.write:
        print(table)
        return 0
    from mmseg_attnkd.release.markdown_blocks import rewrite_blocks
    with open(args.write, encoding='utf-8') as f:
        if START not in f.read():
            print(f'{args.write} has no {START} ... {END}', file=sys.stderr)
            return 1
    rewrite_blocks(args.write, re.escape(START), END, lambda _: table)
    print(f'wrote {args.write}', file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
