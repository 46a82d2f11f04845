"""Statistics over seeds: mean, sample standard deviation and the Student-t 95% confidence interval.

For n replicates with mean m and sample standard deviation s (divisor n - 1), the two-sided 95% interval
for the expected value is m +- t(0.975, n-1) * s / sqrt(n) (Student, "The probable error of a mean",
Biometrika 6, 1908), exact when the replicates are normal. The t quantile is computed here from the
density (no SciPy): F(x) = 1/2 + integral_0^x f(u) du with
f(u) = Gamma((v+1)/2) / (sqrt(v pi) Gamma(v/2)) * (1 + u^2/v)^(-(v+1)/2) for v degrees of freedom,
integrated with Simpson's rule after the substitution u = tan(theta) (which maps the heavy tails of
small v to a bounded, smooth interval), and inverted by bisection.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass


def _t_cdf(x: float, df: int, panels: int = 2000) -> float:
    """P(T <= x) for Student's t with ``df`` degrees of freedom (x >= 0)."""
    nu = float(df)
    log_c = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)

    # u = tan(theta): f(u) du = f(tan θ) / cos² θ dθ, θ in [0, atan(x)].
    def g(theta: float) -> float:
        u = math.tan(theta)
        return math.exp(log_c - (nu + 1) / 2 * math.log1p(u * u / nu)) / math.cos(theta) ** 2

    b = math.atan(x)
    h = b / panels
    total = g(0.0) + g(b)
    for i in range(1, panels):
        total += (4 if i % 2 else 2) * g(i * h)
    return 0.5 + total * h / 3


@functools.lru_cache(maxsize=256)
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile (0.5 < p < 1) of Student's t with ``df`` >= 1 degrees of freedom."""
    if not 0.5 < p < 1 or df < 1:
        raise ValueError("t_quantile needs 0.5 < p < 1 and df >= 1")
    lo, hi = 0.0, 1.0
    while _t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@dataclass(frozen=True)
class Stats:
    """Mean, sample standard deviation and 95% t-interval half-width of ``n`` finite values."""

    n: int
    mean: float
    std: float
    ci95: float
    """Half-width of the two-sided 95% confidence interval (NaN for n < 2)."""

    def to_dict(self) -> dict[str, float | int | None]:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.__dict__.items()}


def describe(values: Sequence[float]) -> Stats:
    """Statistics of the finite ``values`` (NaN and inf are left out; n counts the rest)."""
    xs = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(xs)
    if n == 0:
        return Stats(0, math.nan, math.nan, math.nan)
    mean = math.fsum(xs) / n
    if n == 1:
        return Stats(1, mean, math.nan, math.nan)
    std = math.sqrt(math.fsum((x - mean) ** 2 for x in xs) / (n - 1))
    return Stats(n, mean, std, t_quantile(0.975, n - 1) * std / math.sqrt(n))
