# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Deployment: ONNX parity and CPU latency, PyTorch eager vs onnxruntime.

Models (the demo architectures, ``configs/demo/``: DeepLabV3+ with a
ResNetV1c-18 layout at 16 base channels, output stride 16, 11 classes):

* ``baseline student``: the demo baseline config;
* ``AttnFD student``: the demo AttnFD distillation model saved as a
  training checkpoint and converted with ``convert_kd_checkpoint_to_student``
  (an AttnFD student *is* a plain student after conversion: same
  architecture as the baseline, so the same latency up to noise; the row
  checks that the conversion path exports);
* ``SD student output``: the demo axial self-distillation model's
  checkpoint converted the same way;
* ``SD teacher output``: the same checkpoint exported as an
  ``AxialRefineHead`` model (``export_axial_refine``), i.e. the student plus
  ``AxialAttention2d`` (64 channels, 8 heads, span 64) on its logits;
* ``SD teacher output, stride 2``: the same with ``axial=dict(stride=2)``
  (the block attends on a 2x average-pooled grid; an option that has to be
  set for training too, since it changes the model), to show what the
  block's resolution costs.

Weights are random (no trained weights ship with the repository), with
randomised BN statistics and a non-zero axial output projection so that
parity exercises every op; latency does not depend on the weight values.

Each model is exported at each size with
:func:`mmseg_attnkd.deployment.export_onnx` and verified on the bundled
demo images (max |delta logit| <= 1e-3, >= 99.99% equal labels). Latency:
one image (batch 1), the same input tensor for every variant; PyTorch eager
runs the very module that is exported (normalisation + ``encode_decode``
under ``torch.inference_mode``); onnxruntime runs the graph on the CPU
provider with all graph optimisations, ``intra_op_num_threads`` equal to
torch's thread count. All variants of one (size, threads) cell are stepped
round-robin (the order rotates every round) after warm-up, so a load spike
of the shared machine hits every variant alike; medians are reported.

Example::

    python bench/deploy/run.py                       # the committed table
    python bench/deploy/run.py --runs 3 --warmup 1 --sizes 96x64 \\
        --out-dir bench/results/quick            # smoke test
"""
import argparse
import os
import os.path as osp
import statistics
import sys
import time

if __package__ in (None, ''):  # run as a script: the repository first
    sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))

from bench.deploy.arms import (ATTNFD_CFG, AXIAL_CFG,  # noqa: E402
                               BASELINE_CFG, MODELS, RUNTIMES, TEACHERS)
from bench.deploy.report import report, targets  # noqa: E402
from bench.lib import common  # noqa: E402


def _randomize(model, seed: int) -> None:
    """Non-trivial BN statistics; non-zero axial output projections."""
    import torch
    gen = torch.Generator().manual_seed(seed)
    for name, m in model.named_modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.running_mean.copy_(
                torch.randn(m.running_mean.shape, generator=gen) * 0.1)
            m.running_var.copy_(
                torch.rand(m.running_var.shape, generator=gen) + 0.5)
        if name.endswith('axial.proj'):  # zero-initialised in training
            m.weight.data.copy_(
                torch.randn(m.weight.shape, generator=gen) * 0.05)


def prepare_models(work_dir: str) -> dict:
    """Write config + plain checkpoint of every model; name -> paths."""
    import torch

    from mmseg_attnkd.utils import (build_distill_model, build_segmentor,
                                    convert_kd_checkpoint_to_student,
                                    export_axial_refine,
                                    get_student_model_cfg, load_config)
    os.makedirs(work_dir, exist_ok=True)
    student_cfg = get_student_model_cfg(load_config(BASELINE_CFG))
    models = {}

    torch.manual_seed(0)
    baseline = build_segmentor(student_cfg)
    _randomize(baseline, 1)
    path = osp.join(work_dir, 'baseline_student.pth')
    torch.save(dict(meta={}, state_dict=baseline.state_dict()), path)
    models['baseline student'] = dict(config=BASELINE_CFG, checkpoint=path)

    axial_s2 = load_config(AXIAL_CFG)
    axial_s2.model.distiller.axial = dict(stride=2)
    for seed, (cfg, stage) in enumerate(((ATTNFD_CFG, 'attnfd'),
                                         (AXIAL_CFG, 'axial_sd'),
                                         (axial_s2, 'axial_sd_s2')), 2):
        torch.manual_seed(seed)
        distill = build_distill_model(cfg)  # random, as after a short run
        _randomize(distill, seed)
        train_ckpt = osp.join(work_dir, f'{stage}_iter_0.pth')
        torch.save(dict(meta={}, state_dict=distill.state_dict()),
                   train_ckpt)
        if stage != 'axial_sd_s2':
            dst = osp.join(work_dir, f'{stage}_student.pth')
            convert_kd_checkpoint_to_student(train_ckpt, dst,
                                             build_segmentor(student_cfg))
            label = 'AttnFD student' if stage == 'attnfd' \
                else 'SD student output'
            models[label] = dict(config=BASELINE_CFG, checkpoint=dst)
        if stage.startswith('axial_sd'):
            label = 'SD teacher output' + (
                ', stride 2' if stage == 'axial_sd_s2' else '')
            ckpt, out_cfg = export_axial_refine(
                cfg, train_ckpt,
                osp.join(work_dir, f'{stage}_teacher_output.pth'))
            models[label] = dict(config=out_cfg, checkpoint=ckpt)
    return models


def export_all(models: dict, sizes, work_dir: str, images) -> dict:
    """Export + verify every model at every size; returns the records."""
    from mmseg_attnkd.deployment import export_onnx
    out = {}
    for name, spec in models.items():
        for h, w in sizes:
            stem = name.replace(' ', '_').replace(',', '')
            path = osp.join(work_dir, f'{stem}_{w}x{h}.onnx')
            res = export_onnx(spec['config'], spec['checkpoint'], path,
                              shape=(h, w), images=images, strict=False)
            rep = res.verification
            out[(name, (h, w))] = dict(
                onnx=path, exporter=res.exporter, opset=res.opset,
                export_s=res.seconds, max_abs_diff=rep.max_abs_diff,
                max_abs_logit=max(c.max_abs_logit for c in rep.checks),
                worst_agreement=rep.worst_agreement, parity=rep.passed,
                images=len(rep.checks))
            print(f'[deploy] exported {name} {w}x{h}: {rep.summary()}',
                  flush=True)
    return out


def measure(models: dict, exports: dict, size, threads: int, runs: int,
            warmup: int, image: str) -> dict:
    """Round-robin latency (ms) of every (model, runtime) at one size."""
    import torch

    from mmseg_attnkd.deployment import (SegmentorExportWrapper,
                                         image_to_input, init_export_model,
                                         ort_session, read_image)
    torch.set_num_threads(threads)
    x = image_to_input(read_image(image), size)
    xt = torch.from_numpy(x)
    fns = {}
    for name, spec in models.items():
        wrapper = SegmentorExportWrapper(
            init_export_model(spec['config'], spec['checkpoint']))
        sess = ort_session(exports[(name, tuple(size))]['onnx'], threads)
        feed = {sess.get_inputs()[0].name: x}

        def run_torch(m=wrapper):
            with torch.inference_mode():
                m(xt)

        fns[(name, 'torch')] = run_torch
        fns[(name, 'onnxruntime')] = lambda s=sess, f=feed: s.run(None, f)
    keys = list(fns)
    times = {k: [] for k in keys}
    for r in range(warmup + runs):
        shift = r % len(keys)  # rotate the order: no fixed position
        for k in keys[shift:] + keys[:shift]:
            start = time.perf_counter()
            fns[k]()
            if r >= warmup:
                times[k].append(1000 * (time.perf_counter() - start))
    return {k: dict(median_ms=statistics.median(v), min_ms=min(v),
                    runs=len(v)) for k, v in times.items()}


def code_version() -> dict:
    """Git commit, and a hash of the axial block's source as measured (it
    may differ from the commit while being worked on)."""
    import hashlib
    import subprocess
    sha = hashlib.sha1()
    for name in ('axial_attention.py', 'axial_attention1d.py',
                 'relative_attention.py'):
        with open(osp.join(common.REPO_ROOT, 'mmseg_attnkd', 'models',
                           'attention', name), 'rb') as f:
            sha.update(f.read())
    digest = sha.hexdigest()[:12]
    try:
        head = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'],
                              cwd=common.REPO_ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(
            ['git', 'diff', '--quiet', 'HEAD', '--', path],
            cwd=common.REPO_ROOT).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        head, dirty = 'unknown', None
    return dict(commit=head, axial_attention_sha1=digest,
                axial_attention_uncommitted=dirty)


def _size(text: str):
    w, h = (int(v) for v in text.lower().split('x'))
    return h, w


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--sizes', nargs='+', default=['240x180', '480x360'],
                        help='input sizes WxH')
    parser.add_argument('--threads', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--runs', type=int, default=40)
    parser.add_argument('--warmup', type=int, default=5)
    parser.add_argument('--images', type=int, default=3,
                        help='demo images for the parity check')
    parser.add_argument('--work-dir',
                        default=osp.join(common.REPO_ROOT, 'bench', 'cache',
                                         'deploy'))
    parser.add_argument('--out-dir', default=common.RESULTS_DIR)
    parser.add_argument('--name', default='deploy')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import onnx
    import onnxruntime

    import mmseg_attnkd  # noqa: F401
    from mmseg_attnkd.deployment import default_images
    sizes = [_size(s) for s in args.sizes]
    info = common.machine_info()
    start = time.time()
    images = default_images(args.images)
    models = prepare_models(args.work_dir)
    exports = export_all(models, sizes, args.work_dir, images)
    latency, overhead = {}, {}
    for t in args.threads:
        latency[f'{t}'], overhead[f'{t}'] = {}, {}
        for size in sizes:
            key = f'{size[1]}x{size[0]}'
            lat = measure(models, exports, size, t, args.runs, args.warmup,
                          images[0])
            latency[f'{t}'][key] = {
                name: {rt: lat[(name, rt)] for rt in RUNTIMES}
                for name in MODELS}
            overhead[f'{t}'][key] = {
                teacher: {rt: lat[(teacher, rt)]['median_ms'] /
                          lat[('SD student output', rt)]['median_ms'] - 1
                          for rt in RUNTIMES}
                for teacher in TEACHERS}
            print(f'[deploy] {key} {t} thread(s): ' + ', '.join(
                f'{n}/{rt} {v["median_ms"]:.1f} ms'
                for (n, rt), v in lat.items()), flush=True)
    first = next(iter(exports.values()))
    res = dict(
        machine=info, args=vars(args), code=code_version(),
        loadavg_end=round(os.getloadavg()[0], 2),
        seconds=round(time.time() - start, 1),
        onnx=onnx.__version__, onnxruntime=onnxruntime.__version__,
        exporter=first['exporter'], opset=first['opset'],
        sizes=[list(s) for s in sizes],
        exports={f'{n} {s[1]}x{s[0]}': v for (n, s), v in exports.items()},
        latency=latency, overhead=overhead)
    res['targets'] = targets(res)
    text = report(res)
    common.save_results(args.out_dir, args.name, text, res)
    print(text)
    return res


if __name__ == '__main__':
    main()
