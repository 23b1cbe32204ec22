"""Sample identity on aligned reads of a draw given tumour fraction 0.5 and large LOH regions
(issue 22: "a draw with TF 0.5 and large LOH regions is not flagged as a swap"; docs/qc.md).

    python benchmarks/accuracy_identity_loh.py RUN_DIR --cohort COHORT_DIR --draw P01_D1 \\
        [--seeds 3] [--tf 0.5] [--work DIR]

RUN_DIR: a pipeline run (``results/align/<patient>/<sample>.bam``,
``results/qc/fingerprint_sites.tsv``); COHORT_DIR: its ``samples.tsv``. Independently of both
simulators, LOH is injected into the aligned reads: the draw's patient's heterozygous sites (its
normal's genotype) on the first half of the contigs (whole-contig LOH over about half of the genome) lose
one allele in the tumour, alternately the ref and the alt allele by contig (copy-neutral LOH).
At tumour fraction ``tf`` the lost allele's share of the fragments there falls from 1/2 to
(1 - tf) / 2, so each fragment carrying it is dropped (whole fragment, by read name) with
probability 2 tf / (1 + tf) (2/3 at tf 0.5). Then every sample is fingerprinted and identity
is run with and without the normals; prints the LOH draw's verdict, relatedness to its own
samples and contamination.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "scripts"))

from plasmatrack.qc.identity import HET, IdentitySettings, genotypes  # noqa: E402
from plasmatrack.qc.identity_pipeline import (IdentityPaths, read_sites_table,  # noqa: E402
                                              run_fingerprint, run_identity)

SETTINGS = IdentitySettings()


def loh_sites(normal_fp: pd.DataFrame) -> pd.DataFrame:
    """The normal's heterozygous sites on the first half of the contigs, with the allele each
    loses (``lost``: the ref allele on odd-numbered contigs of that half, the alt on the others)."""
    calls = genotypes(normal_fp["ref_count"].to_numpy(), normal_fp["alt_count"].to_numpy(),
                      SETTINGS.min_depth, SETTINGS.hom_max_fraction)
    contigs = list(dict.fromkeys(normal_fp["chrom"]))
    half = {c: i for i, c in enumerate(contigs[: max(1, len(contigs) // 2)])}
    het = normal_fp[(calls == HET) & normal_fp["chrom"].isin(half)].copy()
    het["lost"] = np.where(het["chrom"].map(half) % 2 == 0, het["ref"], het["alt"])
    return het


def _dropped(name: str, seed: int, tf: float) -> bool:
    """Whether fragment ``name`` is dropped: a hash of the name and seed, below ``tf``."""
    digest = hashlib.blake2b(f"{seed}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < tf


def inject_loh(bam: Path, sites: pd.DataFrame, tf: float, seed: int, out: Path) -> int:
    """Write ``bam`` without the dropped fragments carrying the lost allele at ``sites``;
    returns the number of fragments dropped."""
    import pysam

    drop = set()
    with pysam.AlignmentFile(str(bam)) as handle:
        for site in sites.itertuples():
            for column in handle.pileup(site.chrom, site.pos - 1, site.pos, truncate=True,
                                        max_depth=1_000_000, stepper="nofilter"):
                for read in column.pileups:
                    if read.is_del or read.is_refskip:
                        continue
                    base = read.alignment.query_sequence[read.query_position]
                    name = read.alignment.query_name
                    if base == site.lost and _dropped(name, seed, 2 * tf / (1 + tf)):
                        drop.add(name)
    # a fresh handle: after the pileups, reading on would start where they stopped
    with pysam.AlignmentFile(str(bam)) as handle, \
            pysam.AlignmentFile(str(out), "wb", template=handle) as sink:
        for read in handle.fetch(until_eof=True):
            if read.query_name not in drop:
                sink.write(read)
    pysam.index(str(out))
    return len(drop)


def run_case(sheet: pd.DataFrame, bams: dict[str, Path], sites: Path, work: Path,
             normals: bool) -> pd.DataFrame:
    """Fingerprint and identity of ``sheet`` (normals left out unless ``normals``)."""
    rows = sheet if normals else sheet[sheet["sample_type"] != "normal"]
    fps = []
    for sid in rows["sample_id"]:
        fps.append(work / f"{sid}.fingerprint.tsv")
        if not fps[-1].exists() or sid.endswith("+loh"):
            run_fingerprint(bams[sid], sites, fps[-1], SETTINGS)
    paths = IdentityPaths(fps, sites, work / "identity.tsv", work / "identity_samples.tsv")
    _, samples = run_identity(rows.reset_index(drop=True), paths, SETTINGS)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--cohort", type=Path, required=True)
    parser.add_argument("--draw", required=True)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tf", type=float, default=0.5)
    parser.add_argument("--work", type=Path, default=Path("identity_loh_work"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    sheet = pd.read_csv(args.cohort / "samples.tsv", sep="\t", dtype=str)
    bams = {s: args.run / "results" / "align" / p / f"{s}.bam"
            for s, p in zip(sheet["sample_id"], sheet["patient_id"])}
    sheet = sheet[[bams[s].exists() for s in sheet["sample_id"]]]
    sites = args.run / "results" / "qc" / "fingerprint_sites.tsv"
    patient = sheet.loc[sheet["sample_id"] == args.draw, "patient_id"].iloc[0]
    normal = sheet.loc[(sheet["patient_id"] == patient) & (sheet["sample_type"] == "normal"),
                       "sample_id"].iloc[0]
    normal_fp = run_fingerprint(bams[normal], sites, args.work / f"{normal}.fingerprint.tsv",
                                SETTINGS)
    lost = loh_sites(normal_fp)
    hets = int((genotypes(normal_fp["ref_count"].to_numpy(), normal_fp["alt_count"].to_numpy(),
                          SETTINGS.min_depth, SETTINGS.hom_max_fraction) == HET).sum())
    print(f"{len(read_sites_table(sites))} sites; {len(lost)} of the normal's {hets} hets in "
          f"LOH ({lost['chrom'].nunique()} contigs); expected lost-allele share "
          f"{(1 - args.tf) / 2:.3f}")
    for seed in range(1, args.seeds + 1):
        loh_bam = args.work / f"{args.draw}.loh{seed}.bam"
        dropped = inject_loh(bams[args.draw], lost, args.tf, seed, loh_bam)
        fp = run_fingerprint(loh_bam, sites, args.work / "loh.fp.tsv", SETTINGS)
        at = fp.merge(lost[["chrom", "pos", "lost"]], on=["chrom", "pos"])
        lost_frac = np.where(at["lost"] == at["ref"], at["ref_count"], at["alt_count"]) / \
            (at["ref_count"] + at["alt_count"]).clip(lower=1)
        case = sheet.replace({args.draw: f"{args.draw}+loh"})
        for normals in (True, False):
            samples = run_case(case, {**bams, f"{args.draw}+loh": loh_bam}, sites, args.work,
                               normals).set_index("sample_id")
            row = samples.loc[f"{args.draw}+loh"]
            print(f"seed {seed} {'with' if normals else 'without'} normals: {dropped} fragments "
                  f"dropped, lost-allele share at LOH hets {np.mean(lost_frac):.3f}; "
                  f"{row['identity_status']} (own relatedness {row['own_relatedness']}, best "
                  f"match {row['best_match']}), contamination {row['contamination']:.4f}; "
                  f"samples failing: {int((~samples['identity_ok']).sum())}")


if __name__ == "__main__":
    main()
