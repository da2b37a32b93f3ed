# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Prepare a trained checkpoint for release.

Writes ``{config_stem}_{YYYYMMDD_HHMMSS}-{sha256[:8]}.pth`` (hash of the
written file), copies the run's JSON training log beside it and adds or
updates the model's entry in ``configs/<method>/metafile.yml``. Regenerate
the README tables afterwards with ``tools/misc/gen_model_zoo_table.py``.

Examples::

    python tools/publish_model.py work_dirs/attnfd_x/iter_80000.pth release/ \\
        --config configs/attnfd/attnfd_x.py --student-only \\
        --training-resources "4x A100 GPUs" --student-baseline 76.1 \\
        --weights-url-prefix https://example.org/mmseg-attnkd/v1.0/attnfd
"""
import argparse
import os.path as osp
import sys

import mmseg_attnkd  # noqa: F401  (compat fixes + registers components)
from mmseg_attnkd.utils import (build_segmentor, compare_keys, export_meta,
                                extract_student_state_dict, get_state_dict,
                                get_student_model_cfg, load_checkpoint_safely,
                                half_floats, load_config,
                                make_plain_checkpoint, strip_training_state)
from mmseg_attnkd.release import model_zoo, publish


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Publish a trained checkpoint')
    p.add_argument('src', help='checkpoint written by tools/train.py')
    p.add_argument('out_dir', help='folder for the released files')
    p.add_argument('--config', required=True,
                   help='config the checkpoint was trained with (its file '
                   'name gives the release name)')
    p.add_argument('--work-dir', help='training work dir holding the '
                   'YYYYMMDD_HHMMSS/vis_data logs (default: folder of src)')
    p.add_argument('--keep-training-state', action='store_true',
                   help='keep optimizer, message hub and schedulers')
    p.add_argument('--student-only', action='store_true',
                   help='release only the student as a plain MMSeg model '
                   '(checked against the config\'s model.architecture)')
    p.add_argument('--fp16', action='store_true',
                   help='store floating-point weights as fp16 (half the '
                   'size; score the released file with '
                   'tools/misc/zoo_results.py to see the accuracy holds)')
    p.add_argument('--release-config',
                   help='config that loads the released file in plain MMSeg '
                   '(the metafile Config; default: --config, or with '
                   '--student-only the --student-config); the training '
                   'config is kept as Metadata "Training Config"')
    p.add_argument('--metafile', help='metafile to update (default: '
                   'metafile.yml next to the config)')
    p.add_argument('--no-metafile', action='store_true',
                   help='do not touch any metafile')
    p.add_argument('--repo-root', default='.',
                   help='root that metafile Config paths are relative to')
    p.add_argument('--collection', help='"In Collection" value (default: '
                   'the metafile\'s first collection or the config folder)')
    p.add_argument('--weights-url-prefix', default='',
                   help='URL folder the files will be uploaded to')
    p.add_argument('--training-resources', help='e.g. "4x A100 GPUs"')
    p.add_argument('--dataset', help='dataset name (default: from config)')
    p.add_argument('--teacher-name', help='e.g. "DeepLabV3+ R101-D8"')
    p.add_argument('--student-name', help='e.g. "DeepLabV3+ R18-D8"')
    p.add_argument('--teacher-config', help='teacher config reference')
    p.add_argument('--teacher-weights', help='teacher checkpoint URL')
    p.add_argument('--student-config', help='baseline student config')
    p.add_argument('--student-baseline', type=float,
                   help='mIoU of the student trained without distillation')
    p.add_argument('--timestamp', help='YYYYMMDD_HHMMSS for the name '
                   '(default: when the checkpoint was saved)')
    return p.parse_args(argv)


def _cfg_ref(node) -> str:
    return node.get('cfg_path') if isinstance(node, dict) else None


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = load_config(args.config)
    stem = osp.splitext(osp.basename(args.config))[0]
    checkpoint = load_checkpoint_safely(args.src)
    if args.student_only:
        student = build_segmentor(get_student_model_cfg(cfg))
        state = extract_student_state_dict(checkpoint)
        report = compare_keys(state, student)
        if not report.ok:
            raise ValueError(f'student weights do not match the config: '
                             f'{report.summary()}. Use '
                             'tools/model_converters/convert_kd_ckpt_to_'
                             'student.py --force if that is intended.')
        out = make_plain_checkpoint(state, export_meta(checkpoint))
    elif args.keep_training_state:
        out = checkpoint
    else:
        out = strip_training_state(checkpoint)
        get_state_dict(out)  # refuses a checkpoint without weights
        # the training config text names the trainer's paths; the metafile
        # names the config instead
        out['meta'] = export_meta(checkpoint)
    if args.fp16:
        if args.keep_training_state:
            raise ValueError('--fp16 stores weights for inference; drop '
                             '--keep-training-state.')
        out = dict(out, state_dict=half_floats(get_state_dict(out)))
        out['meta'] = dict(out.get('meta') or {}, weights_dtype='float16')
    saved = publish.save_published(out, args.out_dir, stem, args.timestamp)
    print(f'wrote {saved["path"]} (sha256 {saved["sha256"]})')

    meta = checkpoint.get('meta') or {}
    work_dir = args.work_dir or osp.dirname(osp.abspath(args.src))
    run_ts = None
    match = publish.TIMESTAMP_RE.search(str(meta.get('experiment_name', '')))
    if match:
        run_ts = match.group(1)
    log = publish.find_json_log(work_dir, run_ts) if osp.isdir(work_dir) \
        else None
    if log is None and run_ts is not None:
        log = publish.find_json_log(work_dir)
    log_copy = None
    metrics = dict(student={}, teacher={})
    if log is None:
        print(f'warning: no vis_data/*.json log under {work_dir}; the '
              'metafile gets no metrics (pass --work-dir)', file=sys.stderr)
    else:
        # a resumed training: its earlier invocations' logs come first
        log_copy = publish.copy_json_log(
            publish.resumed_json_logs(work_dir, log), args.out_dir, stem,
            saved['timestamp'])
        metrics = publish.split_metrics(publish.read_val_metrics(log))
        print(f'copied {log} -> {log_copy}; metrics {metrics}')
    saved.update(log=log_copy, metrics=metrics)
    if args.no_metafile:
        return saved

    metafile = args.metafile or osp.join(
        osp.dirname(osp.abspath(args.config)), 'metafile.yml')
    data = model_zoo.load_metafile(metafile)
    method = osp.basename(osp.dirname(osp.abspath(args.config)))
    collection = args.collection or next(
        (c.get('Name') for c in data['Collections'] if c.get('Name')),
        method)
    prefix = args.weights_url_prefix.rstrip('/')

    def url(path):
        if path is None:
            return None
        return f'{prefix}/{osp.basename(path)}' if prefix \
            else osp.basename(path)

    def rel(path):
        return osp.relpath(osp.abspath(path), osp.abspath(
            args.repo_root)).replace(osp.sep, '/')

    def file_ref(path):
        # a config file given by path is named relative to the repository,
        # like ``Config`` (a metafile names no machine path)
        return rel(path) if path and osp.isfile(path) else path

    model_cfg = cfg.get('model', {})
    teacher = dict(
        Name=args.teacher_name,
        Config=file_ref(args.teacher_config)
        or _cfg_ref(model_cfg.get('teacher')),
        Weights=args.teacher_weights)
    student = dict(
        Name=args.student_name,
        Config=file_ref(args.student_config) or _cfg_ref(
            model_cfg.get('architecture')))
    if args.student_baseline is not None:
        student['Metrics'] = {'mIoU': round(args.student_baseline, 2)}

    release_config = args.release_config or (
        args.student_config if args.student_only else None)
    if args.student_only and release_config is None:
        raise ValueError('--student-only releases a plain MMSeg model: pass '
                         '--release-config (or --student-config), the plain '
                         'config that loads it.')
    entry = publish.build_metafile_entry(
        name=stem,
        config=rel(release_config or args.config),
        weights=url(saved['path']),
        metrics=metrics,
        collection=collection,
        training_log=url(log_copy),
        dataset=args.dataset or publish.dataset_name_from_cfg(cfg),
        iterations=meta.get('iter') or cfg.get('train_cfg', {}).get(
            'max_iters'),
        crop_size=publish.crop_size_from_cfg(cfg),
        training_resources=args.training_resources,
        teacher=teacher,
        student=student)
    if release_config:
        entry.setdefault('Metadata', {})['Training Config'] = rel(args.config)
    action = model_zoo.upsert_model(data, entry, dict(Name=collection))
    model_zoo.dump_metafile(data, metafile)
    print(f'{action} "{stem}" in {metafile}')
    saved.update(metafile=metafile, entry=entry)
    return saved


if __name__ == '__main__':
    main()
