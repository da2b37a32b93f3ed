# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Timing statistics of the cost benchmarks (``overhead.py``, ``parity.py``).

* :func:`round_robin` steps several callables in turn for a number of
  rounds, so a change of machine load hits every one of them alike;
* :func:`median_ci` is the median with a percentile-bootstrap 95% interval
  (rounds resampled with replacement), :func:`ratio_ci` the same for the
  per-round ratios of two paired series;
* :func:`verdict` states a target as met or missed.

Pure Python (``random``, ``statistics``) so the statistics are cheap to
test.
"""
import math
import os
import random
import statistics
import time
from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

__all__ = [
    'Interval', 'median_ci', 'ratio_ci', 'summary', 'format_ci',
    'format_extra_pct', 'verdict', 'load_average', 'round_robin', 'timed'
]

#: Bootstrap resamples of every interval.
N_BOOT = 2000


class Interval(NamedTuple):
    """A median and its bootstrap interval over ``n`` values."""
    median: float
    low: float
    high: float
    n: int

    def as_dict(self) -> Dict[str, float]:
        return dict(median=self.median, low=self.low, high=self.high,
                    n=self.n)


def _quantile(sorted_vals: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of already sorted values."""
    pos = q * (len(sorted_vals) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (pos - lo)


def median_ci(values: Sequence[float], level: float = 0.95,
              n_boot: int = N_BOOT, seed: int = 0) -> Interval:
    """Median of ``values`` with a percentile-bootstrap interval.

    Each resample draws ``len(values)`` values with replacement; the
    interval is the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of
    the resampled medians. Seeded, so the same data give the same interval.

    Args:
        values: Measurements (at least one, all finite).
        level: Coverage of the interval.
        n_boot: Number of resamples.
        seed: Seed of the resampling.

    Raises:
        ValueError: No values, a non-finite value or a level outside (0, 1).
    """
    vals = [float(v) for v in values]
    if not vals:
        raise ValueError('median_ci needs at least one value')
    if not all(math.isfinite(v) for v in vals):
        raise ValueError(f'median_ci got a non-finite value: {vals}')
    if not 0 < level < 1:
        raise ValueError(f'level must lie in (0, 1), got {level}')
    rng = random.Random(seed)
    n = len(vals)
    meds = sorted(
        statistics.median(rng.choices(vals, k=n)) for _ in range(n_boot))
    alpha = (1 - level) / 2
    return Interval(statistics.median(vals), _quantile(meds, alpha),
                    _quantile(meds, 1 - alpha), n)


def ratio_ci(num: Sequence[float], den: Sequence[float],
             **kwargs) -> Interval:
    """:func:`median_ci` of the per-round ratios ``num[i] / den[i]``.

    Raises:
        ValueError: The series differ in length or a denominator is 0.
    """
    if len(num) != len(den):
        raise ValueError(f'paired series differ in length: {len(num)} vs '
                         f'{len(den)}')
    if any(d == 0 for d in den):
        raise ValueError('a denominator of the per-round ratios is 0')
    return median_ci([a / b for a, b in zip(num, den)], **kwargs)


def summary(ts: Sequence[float]) -> Dict[str, object]:
    """Median, minimum, bootstrap interval and the times themselves."""
    return dict(median_s=statistics.median(ts), min_s=min(ts),
                ci_s=median_ci(ts).as_dict(), times_s=list(ts))


def format_ci(iv: Optional[Interval], digits: int = 3,
              scale: float = 1.0) -> str:
    """``'1.234 [1.200, 1.260]'`` (values times ``scale``), or ``'-'``."""
    if iv is None:
        return '-'
    m, lo, hi = (v * scale for v in iv[:3])
    return f'{m:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]'


def format_extra_pct(iv: Interval, digits: int = 1) -> str:
    """A ratio interval as extra percent: ``'+12.0% [+9.1, +15.3]'``."""
    m, lo, hi = (100 * (v - 1) for v in iv[:3])
    return f'{m:+.{digits}f}% [{lo:+.{digits}f}, {hi:+.{digits}f}]'


def verdict(value, target: float) -> str:
    """``'met'`` or ``'missed'``: is ``value`` at most ``target``?

    Args:
        value: An :class:`Interval` (judged by its median), a number, or
            None (not measured: ``'n/a'``).
        target: Upper bound.

    Returns:
        str: ``'met'``/``'missed'``; for an interval that contains the
        target, ``' (95% interval contains the target)'`` is appended.
    """
    if value is None:
        return 'n/a'
    if isinstance(value, Interval):
        word = 'met' if value.median <= target else 'missed'
        if value.low <= target <= value.high:
            word += ' (95% interval contains the target)'
        return word
    return 'met' if value <= target else 'missed'


def load_average() -> float:
    """1-minute load average (NaN where the OS does not report one)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return float('nan')


def round_robin(steps: Dict[str, Callable[[], float]], rounds: int,
                warmup: int = 0, label: str = '',
                log: Callable[[str], None] = print) -> Dict[str, List[float]]:
    """Call every step once per round, in order, for ``warmup + rounds``.

    Args:
        steps: ``{name: fn}``; ``fn()`` runs once and returns its seconds.
        rounds: Measured rounds.
        warmup: Rounds run first and discarded.
        label: Prefix of the progress lines.
        log: Where progress lines go (one per round).

    Returns:
        dict: ``{name: [seconds of each measured round]}``.
    """
    times = {name: [] for name in steps}
    total = warmup + rounds
    for r in range(total):
        start = time.perf_counter()
        for name, fn in steps.items():
            t = fn()
            if r >= warmup:
                times[name].append(t)
        tag = 'warm-up' if r < warmup else 'round'
        n = r + 1 if r < warmup else r + 1 - warmup
        of = warmup if r < warmup else rounds
        log(f'{label}{tag} {n}/{of} ({time.perf_counter() - start:.1f}s, '
            f'load {load_average()})')
    return times


def timed(fn: Callable[[], object]) -> Callable[[], float]:
    """Wrap ``fn`` into a step that returns its wall-clock seconds."""

    def step() -> float:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start

    return step
