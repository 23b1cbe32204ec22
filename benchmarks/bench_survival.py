"""Benchmark of the cohort statistics against named baselines on the same data, same machine, same
run. Prints times and ratios (ours / baseline); lower is better.

1. Full marker analysis (KM + log-rank + Cox on the high/low split + Cox on the log marker, as
   ``plasmatrack survival --marker-col M --cutpoint median`` computes it) vs calling lifelines
   directly for the same four results (KaplanMeierFitter x 2, logrank_test, CoxPHFitter x 2).
2. Maximally selected log-rank statistic over every admissible cut: our vectorised maxstat vs a
   loop of lifelines ``logrank_test`` at each cut (what one would write without maxstat).
3. The same maxstat with 2,000 permutations (Monte Carlo p-value), absolute time.

Usage: .venv/bin/python benchmarks/bench_survival.py [--sizes 60,400] [--repeats 3]"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd


def cohort(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.lognormal(size=n)
    t = rng.exponential(1 / np.exp(0.5 * np.log(x)))
    c = rng.exponential(3.0, size=n)
    return pd.DataFrame({"months": np.minimum(t, c), "event": (t <= c).astype(int), "marker": x})


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def ours_analysis(df):
    from plasmatrack.stats.survival import SurvivalSettings, TableAnalysis, analyze_table

    analyze_table(df, TableAnalysis("months", "event", marker_col="marker", cutpoint="median"),
                  SurvivalSettings(permutations=0))


def lifelines_analysis(df):
    from lifelines import CoxPHFitter, KaplanMeierFitter
    from lifelines.statistics import logrank_test

    high = df["marker"] > df["marker"].median()
    for mask in (high, ~high):
        KaplanMeierFitter().fit(df.loc[mask, "months"], df.loc[mask, "event"])
    logrank_test(df.loc[high, "months"], df.loc[~high, "months"], df.loc[high, "event"],
                 df.loc[~high, "event"])
    CoxPHFitter().fit(df.assign(high=high.astype(float))[["months", "event", "high"]],
                      "months", "event")
    CoxPHFitter().fit(df.assign(lm=np.log(df["marker"]))[["months", "event", "lm"]],
                      "months", "event")


def ours_maxstat(df, permutations=0):
    from plasmatrack.stats.maxstat import maxstat_test

    return maxstat_test(df["months"], df["event"], df["marker"], permutations=permutations)


def naive_maxstat(df, min_prop=0.1):
    from lifelines.statistics import logrank_test

    x = np.sort(df["marker"].values)
    n = len(x)
    best = 0.0
    for k in range(int(np.floor(n * min_prop)), int(np.floor(n * (1 - min_prop))) + 1):
        cut = x[k - 1]
        low = df["marker"] <= cut
        r = logrank_test(df.loc[low, "months"], df.loc[~low, "months"], df.loc[low, "event"],
                         df.loc[~low, "event"])
        best = max(best, r.test_statistic)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="60,400")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    ours_analysis(cohort(30))  # import and warm up both paths once
    lifelines_analysis(cohort(30))
    print(f"{'n':>6} {'step':<44} {'ours_s':>9} {'baseline_s':>11} {'ratio':>7}")
    for n in (int(s) for s in args.sizes.split(",")):
        df = cohort(n)
        a = best_of(lambda: ours_analysis(df), args.repeats)
        b = best_of(lambda: lifelines_analysis(df), args.repeats)
        print(f"{n:>6} {'marker analysis vs lifelines direct':<44} {a:>9.3f} {b:>11.3f} "
              f"{a / b:>7.2f}")
        a = best_of(lambda: ours_maxstat(df), args.repeats)
        b = best_of(lambda: naive_maxstat(df), 1)
        print(f"{n:>6} {'maxstat vs lifelines logrank at every cut':<44} {a:>9.4f} {b:>11.3f} "
              f"{a / b:>7.4f}")
        a = best_of(lambda: ours_maxstat(df, 2000), args.repeats)
        print(f"{n:>6} {'maxstat + 2000 permutations':<44} {a:>9.3f} {'-':>11} {'-':>7}")


if __name__ == "__main__":
    main()
