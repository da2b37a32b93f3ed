# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Step speed of the training options: bf16 teacher, channels-last, compile.

One invocation, one machine (``python bench/speed/run.py``):

1. **Step time**, interleaved: every eager arm of a scale
   (``bench/speed/arms.py``: shipped configs + overrides) is built in this
   process and runs one ``train_step`` per round (data preprocessing, the
   forward, backward and SGD update, as MMEngine runs it) round-robin on
   one batch of the demo's real CamVid frames; the median per arm and, for
   each pair, the median of the per-round ratios with a 95% bootstrap
   interval. The teacher arms time the frozen teacher's forward alone.
2. **Compile**: each compiled arm runs in its own process with its eager
   twin, interleaved the same way; the compile time (the first call) and
   any failure are recorded.
3. **Step peak memory** of every arm in a fresh process (peak RSS of 3
   steps minus RSS before them, ``MALLOC_MMAP_THRESHOLD_`` set).
4. **bf16 teacher numerics**: the demo's trained teacher on the 24 demo
   validation frames in fp32 and under bf16 autocast: the largest
   difference of its logits and of every feature AttnFD records, and the
   share of pixels whose argmax class changes.

Results: ``<out-dir>/speed_cpu.{json,md}`` (``bench/results`` by default).
``--report-only`` rewrites the markdown from the JSON. Every finished
phase is saved to ``<out-dir>/speed_cpu.partial.json``; the same command,
at the same commit, resumes after it.

Example::

    python bench/speed/run.py                      # the committed run
    python bench/speed/run.py --rounds 2 --scales demo --arms student \\
        student_cl --no-compile --no-memory --out-dir work_dirs/speed_smoke
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from bench.lib import common, timing  # noqa: E402
from bench.speed import report  # noqa: E402
from bench.speed.arms import ARMS, PAIRS, SCALES  # noqa: E402

DEMO_DATA = 'demo/camvid_mini'
NAME = 'speed_cpu'


def arm_config(scale: str, arm_name: str):
    """The MMEngine config of an arm (shipped file + overrides)."""
    from mmengine.config import Config

    from mmseg_attnkd.utils import adapt_cfg_to_environment
    s, arm = SCALES[scale], ARMS[arm_name]
    cfg = Config.fromfile(osp.join(REPO, s[arm.model]))
    if arm.model == 'axial_sd':  # axial SD wraps the scale's own student
        student = Config.fromfile(osp.join(REPO, s['student'])).model
        cfg.model.architecture = student
    if arm.model == 'attnfd':
        cfg.merge_from_dict(dict(s.get('attnfd_options', ())))
    if arm.distiller_from:
        cfg.model.distiller = Config.fromfile(
            osp.join(REPO, arm.distiller_from)).model.distiller
    cfg.merge_from_dict(dict(arm.options))
    for holder in (cfg.model, cfg.model.get('architecture')):
        if holder is not None and holder.get('data_preprocessor'):
            holder.data_preprocessor.size = tuple(s['crop'])
    adapt_cfg_to_environment(cfg)
    return cfg


def demo_batch(n: int, split: str = 'train') -> dict:
    """``n`` demo CamVid frames as a collated, unprocessed data batch."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(osp.join(REPO, SCALES['demo']['student']))
    init_default_scope('mmseg')
    loader = cfg.train_dataloader if split == 'train' else cfg.val_dataloader
    dataset_cfg = loader.dataset
    dataset_cfg.data_root = osp.join(REPO, DEMO_DATA)
    if split == 'train':  # the same frames every time: no random crop/flip
        dataset_cfg.pipeline = cfg.val_dataloader.dataset.pipeline
    dataset = DATASETS.build(dataset_cfg)
    return pseudo_collate([dataset[i] for i in range(n)])


class Runner:
    """One built arm and its ``step()`` (seconds of one iteration)."""

    def __init__(self, scale: str, arm_name: str, data: dict = None,
                 batch: int = None):
        import torch
        from mmengine.optim import OptimWrapper

        from mmseg_attnkd.utils.precision import autocast_for
        arm = ARMS[arm_name]
        cfg = arm_config(scale, arm_name)
        # as a run builds it: init_weights, the teacher checkpoint if any
        self.model = common.build_model(cfg.model.to_dict(), seed=0)
        self.model.train()
        if arm.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.data = data if data is not None else demo_batch(
            batch or SCALES[scale]['batch'])
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optim = OptimWrapper(torch.optim.SGD(
            params, lr=0.01, momentum=0.9, weight_decay=5e-4))
        self.compile_s = None
        if arm.teacher_forward:
            teacher = self.model.teacher
            inputs = self.model.data_preprocessor(self.data, True)['inputs']
            precision = getattr(self.model, 'teacher_precision', 'fp32')

            def forward():
                with torch.no_grad(), autocast_for(teacher, precision):
                    teacher(inputs, None, 'tensor')

            self._fn = forward
        else:
            train_step = self.model.train_step
            if arm.compile:
                train_step = torch.compile(train_step)
            self._fn = lambda: train_step(self.data, self.optim)
            if arm.compile:  # the first call compiles
                self.compile_s = self.step()

    def step(self) -> float:
        start = time.perf_counter()
        self._fn()
        return time.perf_counter() - start


def time_arms(scale: str, arms, rounds: int, warmup: int,
              batch: int = None) -> dict:
    """Phase 1: eager arms of a scale, round-robin in this process."""
    built, data = {}, None
    for name in arms:
        print(f'[{scale}] building {name}', flush=True)
        built[name] = Runner(scale, name, data, batch)
        data = built[name].data
    times = timing.round_robin({n: r.step for n, r in built.items()},
                               rounds, warmup, label=f'[{scale}] ')
    return times


def worker(argv) -> None:
    """Phases 2 and 3 in a fresh process; prints one JSON line."""
    import torch
    p = argparse.ArgumentParser()
    p.add_argument('mode', choices=['compile', 'memory'])
    p.add_argument('scale')
    p.add_argument('arm')
    p.add_argument('--rounds', type=int, default=10)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--batch', type=int, default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.mode == 'memory':
        r = Runner(a.scale, a.arm, batch=a.batch)
        before = common.current_rss_bytes()
        for _ in range(3):
            r.step()
        peak = common.peak_rss_bytes()
        print(json.dumps(dict(step_peak=peak - before, peak_rss=peak)))
        return
    twin = a.arm.replace('_compile', '')
    eager = Runner(a.scale, twin, batch=a.batch)
    try:
        compiled = Runner(a.scale, a.arm, eager.data)
    except Exception as e:  # the failure is the result of this arm
        first = (str(e).strip().splitlines() or [''])[0]
        print(json.dumps(dict(failed=f'{type(e).__name__}: {first[:300]}')))
        return
    times = timing.round_robin({twin: eager.step, a.arm: compiled.step},
                               a.rounds, 1, label=f'[{a.scale}] ')
    # where dynamo split the step (recorder hooks, data-dependent Python)
    from torch._dynamo.utils import counters
    breaks = sorted(counters['graph_break'].items(), key=lambda kv: -kv[1])
    print(json.dumps(dict(times=times, compile_s=compiled.compile_s,
                          graph_breaks=sum(n for _, n in breaks),
                          break_reasons=[[str(k)[:160], n]
                                         for k, n in breaks[:5]])))


def _in_subprocess(args, timeout: float) -> dict:
    """A worker's JSON result, or ``{'failed': reason}`` (a failure or a
    time-out is the measured result of that arm, not the end of the run)."""
    import subprocess
    try:
        return common.run_json_subprocess(
            [osp.abspath(__file__), '--worker', *args], timeout=timeout)
    except subprocess.TimeoutExpired:
        return dict(failed=f'did not finish within {timeout:.0f} s')
    except RuntimeError as e:
        lines = [ln for ln in str(e).splitlines() if ln.strip()]
        return dict(failed=lines[-1][:300] if lines else 'failed')


def bf16_numerics(n: int = 24) -> dict:
    """Phase 4: the demo teacher's logits and AttnFD records, fp32 vs bf16."""
    import torch

    from mmseg_attnkd.models.algorithms.frozen_teacher import \
        frozen_teacher_pass
    algo = Runner('demo', 'attnfd', data={}).model.eval()
    data = algo.data_preprocessor(demo_batch(n, 'val'), False)
    recorders = algo.distiller.teacher_recorders
    out = {}
    for precision in ('fp32', 'bf16'):
        with torch.no_grad(), recorders, frozen_teacher_pass(
                algo.teacher, True, precision, recorders.recorders.values()):
            logits = algo.teacher(data['inputs'], None, 'loss')
            out[precision] = dict(
                logits=logits, **{k: r.data_buffer[0].clone()
                                  for k, r in recorders.recorders.items()})
    rows = {}
    for key, want in out['fp32'].items():
        got = out['bf16'][key]
        diff = (got - want).abs().max().item()
        rows[key] = dict(shape=list(want.shape), dtype=str(got.dtype),
                         max_abs_diff=diff,
                         max_abs=want.abs().max().item(),
                         rel=diff / max(want.abs().max().item(), 1e-12))
    agree = (out['fp32']['logits'].argmax(1) ==
             out['bf16']['logits'].argmax(1)).float().mean().item()
    return dict(images=n, tensors=rows, argmax_agreement=agree)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--scales', nargs='+', default=list(SCALES))
    p.add_argument('--arms', nargs='+', default=None,
                   help='eager arms (default: every arm without compile)')
    p.add_argument('--rounds', type=int, default=30)
    p.add_argument('--warmup', type=int, default=2)
    p.add_argument('--compile-rounds', type=int, default=10)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--batch', type=int, default=None,
                   help='images per step (default: the scale\'s; a smaller '
                   'one for smoke runs)')
    p.add_argument('--compile-timeout', type=float, default=1800,
                   help='seconds a compile or memory worker may take')
    p.add_argument('--no-compile', action='store_true')
    p.add_argument('--no-memory', action='store_true')
    p.add_argument('--out-dir', default=osp.join(REPO, 'bench', 'results'))
    p.add_argument('--report-only', action='store_true')
    a = p.parse_args(argv)
    if a.report_only:
        with open(osp.join(a.out_dir, NAME + '.json')) as f:
            return print(report.write(a.out_dir, NAME, json.load(f)))
    import torch
    torch.set_num_threads(a.threads)
    eager = a.arms or [n for n, arm in ARMS.items() if not arm.compile]
    data = dict(command=' '.join(['python bench/speed/run.py'] +
                                 (argv if argv is not None else sys.argv[1:])),
                commit=common.git_commit(), machine=common.machine_info(),
                threads=a.threads, rounds=a.rounds, batch=a.batch,
                load_start=timing.
                load_average(), scales={}, pairs=[list(p) for p in PAIRS])
    start = time.time()
    os.makedirs(a.out_dir, exist_ok=True)
    partial = osp.join(a.out_dir, NAME + '.partial.json')
    done = _load_partial(partial, data['commit'], a)
    data['scales'], prior = done.get('scales', {}), done.get('wall_s', 0)

    def save():  # after every phase: an interrupted run keeps what it did
        data['wall_s'] = round(time.time() - start + prior, 1)
        common.write_json(partial, data)

    for scale in a.scales:
        res = data['scales'].setdefault(scale, dict(
            compile={}, memory={}, crop=SCALES[scale]['crop'],
            batch=a.batch or SCALES[scale]['batch']))
        if 'times' not in res:
            res['times'] = time_arms(scale, eager, a.rounds, a.warmup,
                                     a.batch)
            save()
        compiled = [] if a.no_compile else [
            n for n, arm in ARMS.items() if arm.compile]
        batch = ['--batch', str(a.batch)] if a.batch else []
        for name in [n for n in compiled if n not in res['compile']]:
            print(f'[{scale}] compile {name}', flush=True)
            res['compile'][name] = _in_subprocess(
                ['compile', scale, name, '--rounds', str(a.compile_rounds),
                 '--threads', str(a.threads), *batch], a.compile_timeout)
            save()
        measured = list(res['times']) + [
            n for n, c in res['compile'].items() if not c.get('failed')]
        for name in [] if a.no_memory else [
                n for n in measured if n not in res['memory']]:
            print(f'[{scale}] memory {name}', flush=True)
            res['memory'][name] = _in_subprocess(
                ['memory', scale, name, '--threads', str(a.threads),
                 *batch], a.compile_timeout)
            save()
    if 'attnfd' in eager:
        data['bf16_numerics'] = bf16_numerics()
    data.update(wall_s=round(time.time() - start + prior, 1),
                load_end=timing.load_average())
    print(report.write(a.out_dir, NAME, data))
    os.remove(partial)


def _load_partial(path: str, commit: str, a) -> dict:
    """The phases an interrupted run of the same commit and settings
    finished (``<out-dir>/speed_cpu.partial.json``); {} if none."""
    if not osp.isfile(path):
        return {}
    with open(path) as f:
        old = json.load(f)
    same = (old.get('commit') == commit and old.get('rounds') == a.rounds
            and old.get('threads') == a.threads
            and old.get('batch') == getattr(a, 'batch', None))
    if not same:
        print(f'{path} is from another commit or setting: starting afresh')
        return {}
    print(f'resuming: {path} has scales {sorted(old.get("scales", {}))}')
    return old


if __name__ == '__main__':
    if len(sys.argv) > 1 and sys.argv[1] == '--worker':
        worker(sys.argv[2:])
    else:
        main()
