#!/usr/bin/env python
"""Copy-number stage speed against ``cnvkit.py batch`` on the same input, same machine, same run.

1. Stage per sample: plasmatrack's steps (bins, coverage, panel of normals, fix, segmentation,
   gene statistics, the HMM) run in-process on the BAMs of a pipeline run, against
   ``cnvkit.py batch`` (coverage, reference, fix, segment, call, plots off) on the same BAMs,
   panel, reference FASTA and access BED. Both segment with the same method (cbs when R/DNAcopy
   is installed). Reported per plasma sample, shared steps (bins, reference) spread over them.
2. TF model fit for a 3,000-bin genome: ``fit_tumour_fraction`` on a simulated 3,000-bin profile
   (22 autosomes, arm-level changes, TF 0.2) against CNVkit's own HMM segmentation
   (``cnvkit.py segment -m hmm-tumor``) on the same bins, and against its in-process call.

Wall and CPU seconds are both printed (CPU is steadier on a shared machine); ratios are ours /
CNVkit's, so < 1 means faster.

    .venv/bin/python benchmarks/bench_cnv.py --run DIR [--samples 4]

``--run``: a folder where the pipeline ran on a simulated cohort (``cohort/`` with config.yaml,
``results/align/`` and ``results/reference/``), e.g. the e2e fixture's dilution run.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))
BIN = Path(sys.executable).parent


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(fn):
    wall, cpu = time.perf_counter(), _cpu()
    result = fn()
    return time.perf_counter() - wall, _cpu() - cpu, result


def stage(run: Path, n_samples: int, workdir: Path) -> dict:
    from plasmatrack.cnv import coverage
    from plasmatrack.cnv.call import CallSettings, PoolMember, ReferenceInputs, SampleOutputs
    from plasmatrack.cnv.fragments import sample_fragment_lengths
    from plasmatrack.cnv.pipeline import fit_patient, fix_and_analyse, make_reference
    from plasmatrack.cnv.segment import resolve_method
    from plasmatrack.config import load_config
    from plasmatrack.sheets import load_samples

    config = load_config(run / "cohort" / "config.yaml")
    samples = load_samples(config["samples"], check_files=False)
    fasta = str(run / "results" / "reference" / "genome.fa")
    panel, genes = config["panel"], config["genes"]
    bam = {r.sample_id: str(run / "results" / "align" / r.patient_id / f"{r.sample_id}.bam")
           for r in samples.itertuples()}
    normals = list(samples.loc[samples["sample_type"] == "normal", "sample_id"])
    plasma = list(samples.loc[samples["sample_type"] == "plasma", "sample_id"])[:n_samples]
    method = resolve_method("auto")
    ours = workdir / "ours"
    ours.mkdir(parents=True, exist_ok=True)

    def run_ours():
        bins = {k: str(ours / f"{k}.bed") for k in ("targets", "antitargets", "access")}
        coverage.make_bins(fasta, bins["targets"], bins["antitargets"], bins["access"],
                           panel_bed=panel, genes_bed=genes)
        cov = {}
        for sid in normals + plasma:
            cov[sid] = (str(ours / f"{sid}.t.cnn"), str(ours / f"{sid}.a.cnn"))
            coverage.sample_coverage(bam[sid], bins["targets"], bins["antitargets"], *cov[sid],
                                     sid)
        for sid in plasma:
            sample_fragment_lengths(bam[sid], bins["targets"], bins["antitargets"],
                                    str(ours / f"{sid}.lengths.tsv"))
        pool = [(n, *cov[n]) for n in normals]
        make_reference([p[1] for p in pool], [p[2] for p in pool], fasta, bins["targets"],
                       bins["antitargets"], str(ours / "ref.cnn"))
        reference = ReferenceInputs(fasta, bins["targets"], bins["antitargets"],
                                    str(ours / "ref.cnn"), tuple(PoolMember(*p) for p in pool))
        for sid in plasma:
            o = {k: str(ours / f"{sid}.{k}") for k in ("cnr", "cns", "seg", "gs", "info")}
            fix_and_analyse(sid, *cov[sid], reference,
                            SampleOutputs(o["cnr"], o["cns"], o["seg"], o["gs"], o["info"]),
                            genes, CallSettings(segment_method=method))
        fit_patient(plasma, ["plasma"] * len(plasma), [str(ours / f"{s}.cnr") for s in plasma],
                    [str(ours / f"{s}.info") for s in plasma], str(ours / "fits.tsv"),
                    str(ours / "states.tsv"),
                    length_paths=[str(ours / f"{s}.lengths.tsv") for s in plasma])
        return bins["access"]

    wall_o, cpu_o, access = measure(run_ours)
    base = workdir / "cnvkit"
    cmd = [str(BIN / "cnvkit.py"), "batch", *[bam[s] for s in plasma], "--normal",
           *[bam[n] for n in normals], "--targets", panel, "--fasta", fasta, "--access", access,
           "--output-reference", str(base / "ref.cnn"), "--output-dir", str(base),
           "-p", "1", "--segment-method", method]
    base.mkdir(exist_ok=True)
    wall_b, cpu_b, proc = measure(lambda: subprocess.run(cmd, capture_output=True, text=True))
    if proc.returncode != 0:
        raise SystemExit(f"cnvkit.py batch failed:\n{proc.stderr[-3000:]}")
    n = len(plasma)
    return {"what": f"copy-number stage per plasma sample ({n} plasma + {len(normals)} normals, "
                    f"segmentation {method})",
            "ours_wall": wall_o / n, "ours_cpu": cpu_o / n, "cnvkit_wall": wall_b / n,
            "cnvkit_cpu": cpu_b / n, "command": " ".join(cmd)}


def profile_3000(path: Path, tf: float = 0.2, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    per = 3000 // 22
    rows = []
    for c in range(22):
        cn = np.full(per, 2)
        if c % 3 == 0:
            cn[per // 2:] = 3
        if c % 4 == 1:
            cn[: per // 2] = 1
        mu = np.log2((2 * (1 - tf) + cn * tf) / 2)
        y = mu + rng.standard_t(6, per) * 0.08
        start = np.arange(per) * 1_000_000
        rows.append(pd.DataFrame({"chromosome": f"chr{c + 1}", "start": start,
                                  "end": start + 1_000_000, "gene": "-", "log2": y,
                                  "depth": 1.0, "weight": 1.0}))
    table = pd.concat(rows, ignore_index=True)
    table["log2"] -= table["log2"].median()
    table.to_csv(path, sep="\t", index=False)
    return table


def tf_fit(workdir: Path) -> dict:
    from cnvlib import segmentation
    from cnvlib.cmdutil import read_cna

    from plasmatrack.cnv.tumour_fraction import fit_tumour_fraction

    cnr = workdir / "g3000.cnr"
    table = profile_3000(cnr)
    wall_o, cpu_o, fit = measure(lambda: fit_tumour_fraction(table))
    cnarr = read_cna(str(cnr))
    wall_i, cpu_i, _ = measure(lambda: segmentation.do_segmentation(cnarr, "hmm-tumor"))
    cmd = [str(BIN / "cnvkit.py"), "segment", "-m", "hmm-tumor", str(cnr), "-o",
           str(workdir / "g3000.cns")]
    wall_b, cpu_b, proc = measure(lambda: subprocess.run(cmd, capture_output=True, text=True))
    if proc.returncode != 0:
        raise SystemExit(f"cnvkit.py segment failed:\n{proc.stderr[-3000:]}")
    return {"what": f"TF HMM fit, {len(table)} bins (fitted TF {fit.tumour_fraction:.3f}, "
                    "truth 0.2)",
            "ours_wall": wall_o, "ours_cpu": cpu_o, "cnvkit_wall": wall_b, "cnvkit_cpu": cpu_b,
            "cnvlib_inprocess_wall": wall_i, "cnvlib_inprocess_cpu": cpu_i,
            "command": " ".join(cmd)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", type=Path, help="pipeline run folder (see the docstring)")
    parser.add_argument("--samples", type=int, default=4, help="plasma samples to time")
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_cnv_"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MPLBACKEND", "Agg")
    results = [tf_fit(workdir)]
    if args.run:
        results.insert(0, stage(args.run, args.samples, workdir))
    for r in results:
        print(f"== {r['what']}")
        print(f"   plasmatrack: wall {r['ours_wall']:.2f} s, CPU {r['ours_cpu']:.2f} s")
        print(f"   CNVkit:      wall {r['cnvkit_wall']:.2f} s, CPU {r['cnvkit_cpu']:.2f} s "
              f"({r['command'].split()[0].split('/')[-1]} {r['command'].split()[1]})")
        if "cnvlib_inprocess_wall" in r:
            print(f"   cnvlib in-process hmm-tumor: wall {r['cnvlib_inprocess_wall']:.2f} s, "
                  f"CPU {r['cnvlib_inprocess_cpu']:.2f} s")
        print(f"   ratio ours/CNVkit: wall {r['ours_wall'] / r['cnvkit_wall']:.2f}, "
              f"CPU {r['ours_cpu'] / r['cnvkit_cpu']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
