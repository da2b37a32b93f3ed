# Copyright (c) mmseg-attnkd contributors. All rights reserved.
"""Seed statistics of the accuracy protocols: means, paired intervals.

Every protocol trains each arm with the same seeds, and for seed ``k`` every
arm starts from the same student weights and sees the same data order, so
arm differences are compared *paired*: ``d_k = arm_k - ref_k`` over the
seeds both arms finished, with a Student-t 95% interval on the mean of
``d``. Pure Python (no numpy/scipy) so the aggregation is cheap to test.
"""
import math
import statistics
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

__all__ = [
    'T975', 't_quantile_975', 'MeanStd', 'mean_std', 'PairedDiff',
    'paired_diff', 't_interval', 'format_mean_std', 'format_paired'
]

#: Two-sided 95% quantiles of Student's t (0.975) for 1..30 degrees of
#: freedom (standard tables); larger df use the normal value 1.960.
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262,
        2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093,
        2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045,
        2.042)


def t_quantile_975(df: int) -> float:
    """0.975 quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f'degrees of freedom must be >= 1, got {df}')
    return T975[df - 1] if df <= len(T975) else 1.960


class MeanStd(NamedTuple):
    """Mean and sample standard deviation of ``n`` values."""
    mean: float
    std: Optional[float]  # None for a single value
    n: int


def mean_std(values: Sequence[float]) -> Optional[MeanStd]:
    """:class:`MeanStd` of the finite values, None if there are none."""
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None
    std = statistics.stdev(vals) if len(vals) > 1 else None
    return MeanStd(statistics.mean(vals), std, len(vals))


class PairedDiff(NamedTuple):
    """Mean paired difference with its 95% t-interval."""
    mean: float
    low: Optional[float]  # None with fewer than 2 pairs
    high: Optional[float]
    n: int
    seeds: List[int]

    @property
    def above_zero(self) -> bool:
        """Whether the whole interval lies above 0."""
        return self.low is not None and self.low > 0


def paired_diff(arm: Dict[int, float],
                ref: Dict[int, float]) -> Optional[PairedDiff]:
    """Paired difference ``arm - ref`` over the seeds both have (finite).

    Args:
        arm: ``{seed: value}`` of the arm.
        ref: ``{seed: value}`` of the reference arm.

    Returns:
        PairedDiff or None when no seed is shared.
    """
    def ok(v):
        return v is not None and math.isfinite(v)

    seeds = sorted(s for s in set(arm) & set(ref) if ok(arm[s]) and ok(ref[s]))
    if not seeds:
        return None
    diffs = [float(arm[s]) - float(ref[s]) for s in seeds]
    return PairedDiff(*t_interval(diffs), len(diffs), seeds)


def t_interval(values: Sequence[float]
               ) -> Tuple[float, Optional[float], Optional[float]]:
    """Mean and 95% t-interval ``(mean, low, high)`` of ``values``; the
    bounds are None for a single value."""
    mean = statistics.mean(values)
    if len(values) < 2:
        return mean, None, None
    half = t_quantile_975(len(values) - 1) * statistics.stdev(values) / \
        math.sqrt(len(values))
    return mean, mean - half, mean + half


def format_mean_std(ms: Optional[MeanStd], digits: int = 2) -> str:
    """``'41.20 +- 0.35'`` (or one value, or ``'-'``)."""
    if ms is None:
        return '-'
    if ms.std is None:
        return f'{ms.mean:.{digits}f}'
    return f'{ms.mean:.{digits}f} +- {ms.std:.{digits}f}'


def format_paired(pd: Optional[PairedDiff], digits: int = 2) -> str:
    """``'+1.23 [+0.40, +2.06] (n=3)'`` (or ``'-'``)."""
    if pd is None:
        return '-'
    if pd.low is None:
        return f'{pd.mean:+.{digits}f} (n=1)'
    return (f'{pd.mean:+.{digits}f} [{pd.low:+.{digits}f}, '
            f'{pd.high:+.{digits}f}] (n={pd.n})')
