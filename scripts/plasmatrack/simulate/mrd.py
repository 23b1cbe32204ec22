"""Tumour-informed residual-disease cohorts with known truth, at the level of molecule counts.

Per patient a personalised panel of 40-120 clonal heterozygous SNVs (copy-neutral, so a
variant's mutant allele fraction is TF / 2 exactly) and a tissue list that adds a few false
variants (sequencing artefacts of the tissue: never in the plasma); some lists also carry one
clonal-haematopoiesis variant (in the blood at 0.5-2 %, plasma and normal alike). Draws: a
baseline between 1e-3 and 1e-2, then on-treatment draws whose TF is 0 (cleared) or log-uniform
between 1e-5 and 1e-2, so many sit below 1e-3. Every sample (each patient's buffy-coat normal,
its draws, healthy donors' plasma) is counted at every patient's sites: the cross-patient
controls.

Molecules: the depth of a site in a sample is Poisson around the sample's mean depth times the
site's capture efficiency (gamma, shape 4). Background: each site has a trinucleotide-context
class rate (C>T at CpG 10x the rest, 2e-5 to 3e-4) times a per-site log-normal factor; a mutant
molecule is a tumour molecule carrying the variant or an error. This is the ``plasmatrack
simulate`` regime of the stage's calibration (docs/mrd.md); a second, independently written
generator lives in ``tests/unit/test_mrd_calibration.py``.

No reads are written: reads at 1e-4 TF need depths far beyond what a test can align, and the
counter itself is checked on real reads (``tests/real/test_mrd_real.py``).

With ``length_bins`` the counts also carry fragment-length bins (``mrd.fragment_length``):
each molecule's length drawn from the read simulator's length distributions
(``simulate.reads``: plasma cfDNA, tumour-derived ~15 bp shorter; the normals' sheared buffy-coat
DNA), a tumour molecule carrying the variant from the tumour's, every other molecule (errors,
CHIP, reference) from its sample's healthy one; 97 % of molecules have a known length (proper
pairs). A separate random stream, so the molecule counts are those without the bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..variants.sites import site_id

BASES = "ACGT"
FALSE_VARIANTS = (1, 4)  # per tissue list, at least / at most
CHIP_PROBABILITY = 0.3


@dataclass(frozen=True)
class MrdCohortSettings:
    """Size of a simulated MRD cohort."""

    patients: int = 12
    draws: int = 6
    healthy_donors: int = 4
    min_variants: int = 40
    max_variants: int = 120
    cleared_fraction: float = 0.3
    length_bins: bool = False


@dataclass
class MrdCohort:
    """Tables of a simulated cohort: ``sites`` (the tissue lists: patient_id, chrom, pos, ref,
    alt, ccf, multiplicity, found_in, truth_weight, truth_rate, kind real/false/chip),
    ``counts`` (sample_id, site_id, mutant, depth), ``draws`` (sample_id, patient_id,
    sample_type, timepoint_days, truth_tf)."""

    sites: pd.DataFrame
    counts: pd.DataFrame
    draws: pd.DataFrame


def _class_rate(rng: np.random.Generator, n: int) -> np.ndarray:
    cpg = rng.random(n) < 0.15
    return np.where(cpg, rng.uniform(2e-4, 3e-4, n), rng.uniform(2e-5, 1e-4, n))


def _patient_sites(rng: np.random.Generator, patient: str, index: int,
                   settings: MrdCohortSettings) -> pd.DataFrame:
    n_real = int(rng.integers(settings.min_variants, settings.max_variants + 1))
    n_false = int(rng.integers(FALSE_VARIANTS[0], FALSE_VARIANTS[1] + 1))
    kinds = ["real"] * n_real + ["false"] * n_false
    if rng.random() < CHIP_PROBABILITY:
        kinds.append("chip")
    n = len(kinds)
    ref = rng.choice(list(BASES), n)
    alt = np.array([rng.choice([b for b in BASES if b != r]) for r in ref])
    pos = np.sort(rng.choice(np.arange(1_000, 5_000_000), n, replace=False))
    rate = _class_rate(rng, n) * rng.lognormal(0.0, 0.5, n)
    return pd.DataFrame({
        "patient_id": patient, "chrom": f"chr{index % 22 + 1}", "pos": pos, "ref": ref,
        "alt": alt, "ccf": 1.0, "multiplicity": 1.0, "found_in": "",
        "truth_weight": np.where(np.array(kinds) == "real", 0.5, 0.0), "truth_rate": rate,
        "kind": kinds, "chip_vaf": np.where(np.array(kinds) == "chip",
                                            rng.uniform(0.005, 0.02, n), 0.0)})


def _draw_tfs(rng: np.random.Generator, settings: MrdCohortSettings) -> list[float]:
    tfs = [float(10 ** rng.uniform(-3, -2))]
    for _ in range(settings.draws - 1):
        cleared = rng.random() < settings.cleared_fraction
        tfs.append(0.0 if cleared else float(10 ** rng.uniform(-5, -2)))
    return tfs


def _samples(rng: np.random.Generator, settings: MrdCohortSettings) -> pd.DataFrame:
    rows = []
    for p in range(settings.patients):
        patient = f"M{p + 1:02d}"
        rows.append((f"{patient}_N", patient, "normal", None, 0.0))
        for d, tf in enumerate(_draw_tfs(rng, settings)):
            rows.append((f"{patient}_D{d + 1}", patient, "plasma", 60 * d, tf))
    for h in range(settings.healthy_donors):
        rows.append((f"H{h + 1:02d}_P", f"H{h + 1:02d}", "plasma", 0, 0.0))
    return pd.DataFrame(rows, columns=["sample_id", "patient_id", "sample_type",
                                       "timepoint_days", "truth_tf"])


def _counts(rng: np.random.Generator, sites: pd.DataFrame, samples: pd.DataFrame
            ) -> pd.DataFrame:
    capture = rng.gamma(4.0, 0.25, len(sites))
    frames = []
    for sample in samples.itertuples(index=False):
        mean_depth = rng.uniform(300, 3000)
        depth = rng.poisson(mean_depth * capture)
        own = (sites["patient_id"] == sample.patient_id).to_numpy()
        vaf = np.where(own, sites["truth_weight"].to_numpy() * sample.truth_tf, 0.0)
        # A CHIP clone is in the patient's blood cells: its normal and every draw carry it.
        vaf = np.where(own, np.maximum(vaf, sites["chip_vaf"].to_numpy()), vaf)
        rate = sites["truth_rate"].to_numpy()
        mutant = rng.binomial(depth, vaf + rate * (1 - vaf))
        frames.append(pd.DataFrame({"sample_id": sample.sample_id,
                                    "site_id": sites["site_id"].to_numpy(),
                                    "mutant": mutant, "depth": depth}))
    return pd.concat(frames, ignore_index=True)


def simulate_mrd_cohort(seed: int, settings: MrdCohortSettings | None = None) -> MrdCohort:
    """A tumour-informed MRD cohort with truth (see the module docstring)."""
    settings = settings or MrdCohortSettings()
    rng = np.random.default_rng([seed, 21])
    sites = pd.concat([_patient_sites(rng, f"M{p + 1:02d}", p, settings)
                       for p in range(settings.patients)], ignore_index=True)
    sites["site_id"] = [site_id(c, p, r, a) for c, p, r, a in
                        zip(sites["chrom"], sites["pos"], sites["ref"], sites["alt"])]
    sites = sites.drop_duplicates("site_id").reset_index(drop=True)
    samples = _samples(rng, settings)
    counts = _counts(rng, sites, samples)
    if settings.length_bins:
        counts = _length_bins(np.random.default_rng([seed, 21, 150]), counts, sites, samples)
    return MrdCohort(sites=sites, counts=counts, draws=samples)


SIZED_FRACTION = 0.97  # molecules with a known length (proper pairs)


def _short_share(pmf: np.ndarray, short_below: int = 150) -> float:
    from .reads import LENGTHS

    return float(pmf[LENGTHS < short_below].sum())


def _length_bins(rng: np.random.Generator, counts: pd.DataFrame, sites: pd.DataFrame,
                 samples: pd.DataFrame) -> pd.DataFrame:
    """``counts`` with depth_short, depth_sized, mutant_short, mutant_sized (< 150 bp): the
    mutant molecules split into tumour and other by their expected shares, lengths by origin."""
    from .reads import cfdna_pmf, sheared_pmf

    tumour_short = _short_share(cfdna_pmf(True))
    out = counts.merge(samples[["sample_id", "patient_id", "sample_type", "truth_tf"]],
                       on="sample_id").merge(
        sites[["site_id", "patient_id", "truth_weight", "truth_rate", "chip_vaf"]].rename(
            columns={"patient_id": "site_patient"}), on="site_id")
    own = (out["patient_id"] == out["site_patient"]).to_numpy()
    tumour_vaf = np.where(own, out["truth_weight"] * out["truth_tf"], 0.0)
    chip_vaf = np.where(own, out["chip_vaf"], 0.0)
    # As in _counts: the allele fraction is the larger of tumour and CHIP (blood: healthy length).
    vaf = np.maximum(tumour_vaf, chip_vaf)
    p_mutant = vaf + out["truth_rate"].to_numpy() * (1 - vaf)
    from_tumour = rng.binomial(out["mutant"],
                               np.where(tumour_vaf >= chip_vaf, tumour_vaf, 0.0) / p_mutant)
    healthy_short = np.where(out["sample_type"] == "normal", _short_share(sheared_pmf()),
                             _short_share(cfdna_pmf(False)))
    sized_t = rng.binomial(from_tumour, SIZED_FRACTION)
    sized_o = rng.binomial(out["mutant"] - from_tumour, SIZED_FRACTION)
    sized_r = rng.binomial(out["depth"] - out["mutant"], SIZED_FRACTION)
    short_t = rng.binomial(sized_t, tumour_short)
    short_o = rng.binomial(sized_o, healthy_short)
    short_r = rng.binomial(sized_r, healthy_short)
    counts = counts.copy()
    counts["depth_short"] = short_t + short_o + short_r
    counts["depth_sized"] = sized_t + sized_o + sized_r
    counts["mutant_short"] = short_t + short_o
    counts["mutant_sized"] = sized_t + sized_o
    return counts


def write_mrd_cohort(out, seed: int, settings: MrdCohortSettings | None = None) -> MrdCohort:
    """``plasmatrack simulate --mrd``: the cohort as files in the folder ``out``:
    ``tumour_variants.tsv`` (the tissue lists, false variants included: the ``mrd`` stage's
    input), ``samples.tsv``, ``counts.tsv`` (molecules of every sample at every site) and the
    truth (``truth/draws.tsv``: each sample's TF; ``truth/variants.tsv``: each listed variant's
    kind, error rate and weight)."""
    from pathlib import Path

    from ..io import write_tsv

    cohort = simulate_mrd_cohort(seed, settings)
    root = Path(out)
    (root / "truth").mkdir(parents=True, exist_ok=True)
    keys = ["patient_id", "chrom", "pos", "ref", "alt"]
    write_tsv(cohort.sites[[*keys, "ccf", "multiplicity"]], root / "tumour_variants.tsv")
    write_tsv(cohort.draws.drop(columns="truth_tf"), root / "samples.tsv")
    write_tsv(cohort.counts, root / "counts.tsv")
    write_tsv(cohort.draws[["sample_id", "truth_tf"]].rename(
        columns={"truth_tf": "tumour_fraction"}), root / "truth" / "draws.tsv")
    write_tsv(cohort.sites[[*keys, "kind", "truth_rate", "truth_weight", "chip_vaf"]],
              root / "truth" / "variants.tsv")
    return cohort
