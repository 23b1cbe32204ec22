"""Benchmark: plasmatrack's clonal clustering vs PyClone-VI on the same real inputs.

Inputs (../shared/data): ``pyclone_mixing`` (PyClone's mixing experiment: 4 samples, truth = the
individual each variant comes from) and ``pyclone_vi_tracerx`` (2,458 mutations x 3 samples).
PyClone-VI is not a project dependency: install it outside the tree (e.g. a venv in /tmp) and
pass its executable with --pyclone-vi; both tools run here, one after the other, with the same
number of clusters (10) and restarts (5), PyClone-VI with its beta-binomial density.

    .venv/bin/python benchmarks/bench_clonal.py --pyclone-vi /tmp/pyclonevi_venv/bin/pyclone-vi

Prints wall and CPU seconds of each tool, the ratio plasmatrack / PyClone-VI, and the adjusted
Rand index of each against the mixing truth."""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO / "scripts"))


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(cmd: list[str]) -> tuple[float, float]:
    cpu0, t0 = _child_cpu(), time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return time.perf_counter() - t0, _child_cpu() - cpu0


def mixing_as_pyclone_vi(out: Path) -> Path:
    """The per-sample PyClone files as one PyClone-VI input (tumour content 1, as PyClone)."""
    frames = []
    for path in sorted((DATA / "pyclone_mixing").glob("*.tsv")):
        df = pd.read_csv(path, sep="\t").rename(columns={"var_counts": "alt_counts"})
        df["sample_id"] = path.stem
        frames.append(df)
    df = pd.concat(frames)
    df["tumour_content"] = 1.0
    cols = ["mutation_id", "sample_id", "ref_counts", "alt_counts", "normal_cn", "major_cn",
            "minor_cn", "tumour_content"]
    df[cols].to_csv(out, sep="\t", index=False)
    return out


def ari(results: Path) -> tuple[float, int]:
    from sklearn.metrics import adjusted_rand_score

    df = pd.read_csv(results, sep="\t").drop_duplicates("mutation_id")
    truth = df["mutation_id"].str.split(":").str[0]
    return adjusted_rand_score(truth, df["cluster_id"]), len(df)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pyclone-vi", help="PyClone-VI executable (benchmark baseline)")
    ap.add_argument("--restarts", type=int, default=5)
    ap.add_argument("--clusters", type=int, default=10)
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"{DATA} is absent; nothing to benchmark")
        return 1
    ours = [str(Path(sys.executable).parent / "plasmatrack"), "clones"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mix = mixing_as_pyclone_vi(tmp / "mixing.tsv")
        cases = {"mixing": mix, "tracerx": DATA / "pyclone_vi_tracerx" / "tracerx.tsv"}
        print(f"{'input':<9} {'tool':<12} {'wall s':>7} {'cpu s':>7} {'mutations':>9} {'ARI':>6}")
        for name, path in cases.items():
            out = tmp / f"ours_{name}"
            wall, cpu = _timed(ours + ["--pyclone-tsv", str(path), "--out", str(out),
                                       "--max-clusters", str(args.clusters),
                                       "--restarts", str(args.restarts)])
            a, n = ari(out / "pyclone_vi_results.tsv")
            print(f"{name:<9} {'plasmatrack':<12} {wall:7.2f} {cpu:7.2f} {n:9d} "
                  f"{a if name == 'mixing' else float('nan'):6.3f}")
            if not args.pyclone_vi:
                continue
            h5 = tmp / f"pcv_{name}.h5"
            res = tmp / f"pcv_{name}.tsv"
            w2, c2 = _timed([args.pyclone_vi, "fit", "-i", str(path), "-o", str(h5), "-c",
                             str(args.clusters), "-d", "beta-binomial", "-r",
                             str(args.restarts), "--seed", "1"])
            w3, c3 = _timed([args.pyclone_vi, "write-results-file", "-i", str(h5), "-o",
                             str(res)])
            a2, n2 = ari(res)
            print(f"{name:<9} {'PyClone-VI':<12} {w2 + w3:7.2f} {c2 + c3:7.2f} {n2:9d} "
                  f"{a2 if name == 'mixing' else float('nan'):6.3f}")
            print(f"{name:<9} ratio plasmatrack / PyClone-VI: wall {wall / (w2 + w3):.2f}, "
                  f"cpu {cpu / (c2 + c3):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
