"""The Wilson score interval of a binomial proportion, vectorised over numpy arrays of counts.

One implementation serves the variants stage (VAF intervals, exact 0/1 at the boundaries) and the
clonal stage (mutation copy-number intervals at a chosen level, the bounds as computed)."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

Z95 = 1.959963984540054  # norm.ppf(0.975)


def z_for_level(level: float) -> float:
    """Two-sided standard normal quantile of a confidence ``level`` (0.95 -> 1.96)."""
    return norm.ppf(0.5 + level / 2.0)


def wilson_interval(successes, trials, z: float = Z95,
                    exact_bounds: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for successes/trials (default 95%); NaN where trials is 0.

    With ``exact_bounds`` the lower bound is exactly 0 where successes is 0 (also when trials is
    0) and the upper bound exactly 1 where successes == trials > 0; without it they are the
    formula's values, which rounding can leave 1e-17 away (the clonal stage's intervals have
    always been the formula's, so it keeps them)."""
    alt = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = alt / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        lower = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
        upper = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    if exact_bounds:
        lower = np.where(alt == 0, 0.0, lower)
        upper = np.where((alt == n) & (n > 0), 1.0, upper)
    return lower, upper
