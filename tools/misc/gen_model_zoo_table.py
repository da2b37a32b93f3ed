# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Generate the README results tables from ``configs/*/metafile.yml``.

Every README with ``<!-- model-zoo:start -->`` ... ``<!-- model-zoo:end -->``
markers gets its block rewritten: inside ``configs/<method>/`` the method's
table, in the top-level README all methods (or the one named in
``<!-- model-zoo:start attnfd -->``).

Examples::

    python tools/misc/gen_model_zoo_table.py            # rewrite blocks
    python tools/misc/gen_model_zoo_table.py --check    # CI: exit 1 if stale
"""
import argparse
import difflib
import os.path as osp
import sys

from mmseg_attnkd.release.model_zoo import sync_readmes

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='README model-zoo tables from metafiles')
    parser.add_argument('--root', default=REPO_ROOT,
                        help='repository root (holds configs/ and README.md)')
    parser.add_argument('--readme', nargs='*',
                        help='READMEs to process (default: README.md and '
                        'configs/*/README.md)')
    parser.add_argument('--check', action='store_true',
                        help='write nothing; exit 1 and show a diff if any '
                        'table differs from its metafile')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    results = sync_readmes(args.root, args.readme, check=args.check)
    stale = []
    for readme, (up_to_date, old, new) in results.items():
        rel = osp.relpath(readme, args.root)
        if up_to_date:
            print(f'up to date: {rel}')
            continue
        stale.append(rel)
        if args.check:
            sys.stdout.writelines(difflib.unified_diff(
                old.splitlines(True), new.splitlines(True),
                f'{rel} (committed)', f'{rel} (from metafiles)'))
        else:
            print(f'updated: {rel}')
    if args.check and stale:
        print(f'{len(stale)} README(s) out of date with the metafiles: '
              f'{", ".join(stale)}. Run tools/misc/gen_model_zoo_table.py '
              'and commit the result.', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
