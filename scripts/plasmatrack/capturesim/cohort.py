"""A whole cohort: patients, their draws and every file of the output folder."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import library as lib
from .fragments import SampleModel, sample_fragments
from .genome import make_genome, make_panel, place_genes, write_fasta
from .reads import Kept, with_duplicates, write_fastq
from .tumour import draw_landscape
from .variants import common_alts, draw_germline, draw_snvs, haplotypes
from . import tables

DAYS = (-7, 28, 84, 168, 252, 336, 420)


@dataclass
class Cohort:
    """What ``write_cohort`` made: the output folder, the truth tables, and (with ``keep_reads``)
    per sample the molecules and the reads, for tests."""

    out: Path
    truth: dict[str, pd.DataFrame]
    kept: dict[str, tuple] = field(default_factory=dict)
    context: dict = field(default_factory=dict)


def archetype_plan(rng: np.random.Generator, n: int) -> list[str]:
    """One archetype per patient: focal ERBB2 and whole-genome doubling first (every cohort of
    two or more has both), then arm-level, short segments and quiet in turn, shuffled."""
    rest = list(rng.permutation(["arm_level", "short_segments", "quiet"]))
    plan = ["focal_erbb2", "wgd"] + [rest[i % 3] for i in range(max(n - 2, 0))]
    return [str(a) for a in rng.permutation(plan[:n])]


def tf_schedule(rng: np.random.Generator, draws: int) -> tuple[str, list[float]]:
    """A course (response, stable or progression) and the draws' tumour fractions: baseline
    log-uniform over 0.03-0.4, later draws scaled by the course; below 0.008 counts as cleared
    (exactly 0)."""
    course = str(rng.choice(["response", "stable", "progression"], p=[0.45, 0.25, 0.3]))
    tf = [float(np.exp(rng.uniform(np.log(0.03), np.log(0.4))))]
    for k in range(1, draws):
        if course == "response":
            factor = rng.uniform(0.02, 0.4) if k == 1 else rng.uniform(0.5, 2.5)
        elif course == "stable":
            factor = rng.uniform(0.6, 1.4)
        else:
            factor = rng.uniform(1.1, 2.0)
        tf.append(min(tf[-1] * factor, 0.4))
    return course, [0.0 if t < 0.008 else round(t, 4) for t in tf]


def _plasma_model(rng, prep_eff, n_pairs: int, tf: float) -> SampleModel:
    dup = float(rng.uniform(0.02, 0.08))
    return SampleModel(
        tf=tf, off_target=float(rng.uniform(0.15, 0.5)), gc=lib.gc_bias(rng),
        efficiency=lib.sample_efficiency(rng, prep_eff), normal_len=lib.nucleosomal(rng, False),
        tumour_len=lib.nucleosomal(rng, True), n_molecules=int(round(n_pairs * (1 - dup))),
        dup_rate=dup)


def _normal_model(rng, prep_eff, n_pairs: int) -> SampleModel:
    dup = float(rng.uniform(0.02, 0.08))
    length = lib.sheared(rng)
    return SampleModel(
        tf=0.0, off_target=float(rng.uniform(0.15, 0.5)), gc=lib.gc_bias(rng),
        efficiency=lib.sample_efficiency(rng, prep_eff), normal_len=length, tumour_len=length,
        n_molecules=int(round(n_pairs * (1 - dup))), dup_rate=dup)


def _log(verbose: bool, t0: float, text: str) -> None:
    if verbose:
        print(f"[capturesim {time.time() - t0:6.1f}s] {text}", file=sys.stderr, flush=True)


def write_cohort(out_dir, seed: int = 1, patients: int = 4, draws: int = 3,
                 fragments: int = 175_000, contig_mb: float = 2.0, contigs: int = 8,
                 normal_fragments: int | None = None, keep_reads: bool = False,
                 verbose: bool = False) -> Cohort:
    """Simulate a capture-panel cohort into ``out_dir`` (see docs/capturesim.md).

    ``patients`` patients, each with one matched normal (sheared genomic DNA) and ``draws``
    plasma draws of about ``fragments`` read pairs (normals: ``normal_fragments``, default the
    same); ``contigs`` contigs of about ``contig_mb`` Mb. The same arguments and seed give
    byte-identical output. Returns the truth tables (and, with ``keep_reads``, the reads)."""
    t0 = time.time()
    out = Path(out_dir)
    for sub in ("reference", "fastq", "truth"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    seeds = np.random.SeedSequence(seed).spawn(3 + patients)
    design_rng, cohort_rng = np.random.default_rng(seeds[0]), np.random.default_rng(seeds[1])
    genome = make_genome(np.random.default_rng(seeds[2]), contigs, contig_mb)
    genes = place_genes(design_rng, genome)
    panel = make_panel(design_rng, genome, genes)
    common_alt = common_alts(design_rng, genome, panel)
    probe = lib.probe_efficiency(design_rng, len(panel))
    prep = {"plasma": lib.prep_efficiency(design_rng, probe),
            "sheared": lib.prep_efficiency(design_rng, probe)}
    t_start, t_end = panel["start"].to_numpy(), panel["end"].to_numpy()
    write_fasta(genome, out / "reference" / "genome.fa")
    _log(verbose, t0, f"genome {genome.total / 1e6:.1f} Mb, {len(panel)} targets")

    plan = archetype_plan(cohort_rng, patients)
    amplified = [a == "focal_erbb2" or cohort_rng.random() < 1 / 3 for a in plan]
    courses = [tf_schedule(cohort_rng, draws) for _ in range(patients)]
    if not any(0.0 in tfs[1:] for _, tfs in courses) and draws > 1:
        # Every cohort has a tumour-free plasma draw: clear one patient's second draw.
        k = int(cohort_rng.integers(patients))
        courses[k] = ("response", [courses[k][1][0], 0.0] + courses[k][1][2:])

    rec = tables.Recorder(genome, genes, panel)
    cohort = Cohort(out=out, truth={})
    for p in range(patients):
        prng = np.random.default_rng(seeds[3 + p])
        pid = f"CS{p + 1:02d}"
        land = draw_landscape(prng, genome, genes, plan[p], amplified[p])
        germ = draw_germline(prng, genome, panel, common_alt)
        haps = haplotypes(genome, germ)
        snvs = draw_snvs(prng, genome, panel, land, germ)
        rec.patient(pid, land, germ, snvs, courses[p][0])
        samples = [(f"{pid}_N", "normal", None, 0.0)]
        samples += [(f"{pid}_D{k + 1}", "plasma", DAYS[k], tf)
                    for k, tf in enumerate(courses[p][1])]
        for sid, stype, day, tf in samples:
            if stype == "normal":
                model = _normal_model(prng, prep["sheared"], normal_fragments or fragments)
            else:
                n_pairs = int(fragments * prng.uniform(0.85, 1.15))
                model = _plasma_model(prng, prep["plasma"], n_pairs, tf)
            frags = sample_fragments(prng, genome, t_start, t_end, land, model)
            rows = with_duplicates(prng, len(frags), model.dup_rate)
            kept = Kept() if keep_reads else None
            fq = [out / "fastq" / f"{sid}_R{r}.fastq.gz" for r in (1, 2)]
            write_fastq(prng, frags, haps, snvs, rows, sid, fq[0], fq[1], kept)
            rec.sample(sid, pid, stype, day, land, model, frags, rows, snvs, fq)
            if keep_reads:
                cohort.kept[sid] = (frags, kept)
            _log(verbose, t0, f"{sid}: {len(rows)} read pairs, TF {tf:g}, {plan[p]}")
    cohort.truth = rec.write(out, prep, probe, cohort_rng)
    cohort.context = {"genome": genome, "panel": panel, "genes": genes}
    _log(verbose, t0, f"done: {out}")
    return cohort
