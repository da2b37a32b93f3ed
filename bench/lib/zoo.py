# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""A study's finished runs into the model zoo (shared by the studies).

:class:`StudyZoo` publishes one row of a study with the repository's tools
(``tools/publish_model.py``: weights only, fp16 storage, OpenMMLab name
with the SHA-256 prefix, the JSON log; ``tools/misc/zoo_results.py``: the
test split scored on the released, hash-checked file), adds what a zoo
table shows (parameters, FLOPs, training time) and checks the released
file against the run's own test mIoU. A study's ``release.py`` names its
rows and the tool arguments of each (teacher, student, baseline).
"""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .paths import REPO_ROOT

__all__ = ['StudyZoo', 'config_stem', 'train_seconds', 'run_tool']


def config_stem(config: str) -> str:
    """``configs/x/name.py`` -> ``name`` (the metafile ``Name``)."""
    return osp.splitext(osp.basename(config))[0]


def train_seconds(record: dict) -> float:
    """Logged seconds of the run's training steps (validation excluded)."""
    logged = record.get('train_seconds') or {'0': 0}
    return round(max(map(float, logged.values())), 1)


def run_tool(*args: str) -> None:
    """``python <tool> args`` from the repository root (bench imports no
    tool: tools are scripts)."""
    subprocess.run([sys.executable, *args], cwd=REPO_ROOT, check=True)


@dataclass
class StudyZoo:
    """Where and how one study releases.

    Args:
        metafile: ``configs/<folder>/metafile.yml``.
        zoo_dir: Folder of the released files, relative to the repository
            (the metafile ``Weights`` are relative to the release base).
        collection: The metafile collection (the README heading).
        dataset: ``Training Data`` / ``Results`` dataset name.
        input_shape: ``(H, W)`` of the FLOPs count.
        tolerance: Most mIoU points (at the metafile's 2 decimals) between
            the released file and the run's own test mIoU for fp16 storage;
            beyond it the row is released again in fp32.
    """
    metafile: str
    zoo_dir: str
    collection: str
    dataset: str
    input_shape: Tuple[int, int]
    tolerance: float = 0.01

    def entry(self, name: str) -> Optional[dict]:
        """The metafile entry ``name``, if any."""
        from mmseg_attnkd.release import model_zoo
        for model in model_zoo.load_metafile(self.metafile)['Models']:
            if model.get('Name') == name:
                return model
        return None

    def released_miou(self, name: str) -> Optional[float]:
        """The test mIoU recorded for ``name``'s released file."""
        results = (self.entry(name) or {}).get('Results') or [{}]
        return (results[0].get('Metrics') or {}).get('mIoU')

    def remove_stale(self, config: str) -> None:
        """Delete an earlier release (weights and log) of ``config``."""
        for path in glob.glob(osp.join(REPO_ROOT, self.zoo_dir,
                                       config_stem(config) + '_*')):
            os.remove(path)

    def publish(self, src: str, work_dir: str, config: str, fp16: bool,
                hardware: str, extra: List[str]) -> str:
        """``tools/publish_model.py`` for one row; its metafile name."""
        args = ['tools/publish_model.py', src, self.zoo_dir, '--config',
                config, '--work-dir', work_dir, '--repo-root', REPO_ROOT,
                '--metafile', self.metafile, '--collection',
                self.collection, '--weights-url-prefix', self.zoo_dir,
                '--dataset', self.dataset, '--training-resources', hardware,
                *extra]
        if fp16:
            args.append('--fp16')
        run_tool(*args)
        return config_stem(config)

    def add_metadata(self, name: str, seconds: float,
                     teacher: Optional[dict] = None) -> None:
        """Parameters and FLOPs of the released model, training time, and
        the teacher's released test mIoU (not a val number)."""
        from mmengine.config import Config
        from mmseg_attnkd.analysis.complexity import segmentor_complexity
        from mmseg_attnkd.release import model_zoo
        from mmseg_attnkd.utils import build_segmentor
        data = model_zoo.load_metafile(self.metafile)
        entry = next(m for m in data['Models'] if m['Name'] == name)
        cfg = Config.fromfile(osp.join(REPO_ROOT, entry['Config']))
        stats = segmentor_complexity(build_segmentor(cfg.model),
                                     self.input_shape)
        meta = entry.setdefault('Metadata', {})
        meta.update({'Parameters': int(stats['params']),
                     'FLOPs': int(stats['flops']),
                     'Training Time': seconds})
        if teacher is not None:
            meta.setdefault('Teacher', {})['Metrics'] = dict(
                mIoU=teacher['Results'][0]['Metrics']['mIoU'])
        model_zoo.dump_metafile(data, self.metafile)

    def score(self, name: str, cfg_options: Dict[str, str],
              tmp: str) -> float:
        """Test mIoU of the released file (fetched and hash-checked),
        written into its ``Results`` by ``tools/misc/zoo_results.py``."""
        options = [f'{k}={v}' for k, v in cfg_options.items()]
        run_tool('tools/misc/zoo_results.py', name, '--configs-dir',
                 osp.dirname(osp.dirname(self.metafile)), '--checkpoint-dir',
                 osp.join(tmp, 'download'), '--cfg-options', *options)
        return float(self.released_miou(name))

    def release_once(self, log_path: str, key: str, config: str,
                     source_sha256: str, release_row) -> Optional[dict]:
        """Release row ``key`` unless the log holds it from this checkpoint.

        ``release_row()`` releases it (:meth:`release`) and returns the log
        row; an earlier release of ``config`` (another checkpoint) is
        deleted first. The log (``log_path``, JSON ``{'rows': {...}}``) is
        written after every row, so an interrupted release loses nothing.

        Returns:
            dict | None: The new log row, None if it was released already.
        """
        from bench.lib import common
        log = dict(rows={})
        if osp.isfile(log_path):
            with open(log_path) as f:
                log = json.load(f)
        old = log['rows'].get(key)
        if old and old['source_sha256'] == source_sha256 and \
                osp.isfile(osp.join(REPO_ROOT, old['weights'])):
            return None
        self.remove_stale(config)
        row = dict(release_row(), source_sha256=source_sha256)
        log['rows'][key] = row
        common.write_json(log_path, log)
        print(f'[release] {key}: {row}', flush=True)
        return row

    def release(self, publish_row, want: float, seconds: float,
                cfg_options: Dict[str, str],
                teacher: Optional[dict] = None) -> dict:
        """Publish (fp16 first), describe and score one row.

        Args:
            publish_row: ``f(fp16, tmp) -> name``: publishes the row
                (:meth:`publish` with the row's arguments).
            want: The run's own test mIoU (its fp32 checkpoint).
            seconds: Training time of the run.
            cfg_options: Test-time config options (the data root).
            teacher: The released teacher's entry, for distilled rows.

        Returns:
            dict: name, file, bytes, dtype, released and run test mIoU,
            their difference and every attempt.
        """
        attempts = []
        for fp16 in (True, False):
            with tempfile.TemporaryDirectory() as tmp:
                name = publish_row(fp16, tmp)
                weights = self.entry(name)['Weights']
                self.add_metadata(name, seconds, teacher)
                got = self.score(name, cfg_options, tmp)
            size = osp.getsize(osp.join(REPO_ROOT, weights))
            dtype = 'float16' if fp16 else 'float32'
            attempts.append(dict(dtype=dtype, bytes=size,
                                 released_test_mIoU=got))
            # both at the metafile's 2 decimals
            ok = round(abs(got - round(want, 2)), 6) <= self.tolerance
            row = dict(name=name, weights=weights, bytes=size, dtype=dtype,
                       released_test_mIoU=got, run_test_mIoU=round(want, 4),
                       difference=round(got - want, 4),
                       within_tolerance=ok, attempts=list(attempts))
            if ok or not fp16:
                return row
            os.remove(osp.join(REPO_ROOT, weights))  # again, in fp32
        return row
