"""File-level entry points of the residual-disease stage (one per rule, and the CLI's): they read
the inputs, call the computing modules and write the outputs atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Collection

import pandas as pd

from ..errors import InputError
from ..ids import id_problem
from ..io import read_tsv, write_tsv
from ..qc.identity_exclusion import read_left_out
from ..variants.pileup import count_sites
from ..variants.sites import Reference
from .call import PLASMA_INFORMED, TUMOUR_INFORMED, call_cohort
from .fragment_length import LENGTH_COUNT_COLUMNS, has_length_counts
from .settings import MrdSettings
from .sites import (SITE_COLUMNS, clonal_weights, count_table, finish_sites,
                    plasma_informed_sites, read_tumour_variants)

# Per-sample molecule counts at the cohort's MRD sites (results/mrd/<patient>/<sample>.counts.tsv).
COUNT_COLUMNS = ["chrom", "pos", "ref", "alt", "depth", "mutant"]


def run_mrd_sites(out: str | Path, tumour_variants: str | None = None,
                  tracked: str | None = None, reference: str | None = None,
                  ccf: str | None = None, identity: str | None = None) -> str:
    """Write the cohort's MRD sites (SITE_COLUMNS): from ``tumour_variants`` when given, else
    plasma-informed from the tracked-variants table, each variant weighted by its CCF and
    multiplicity from the clonal stage's ``ccf`` table when given. Returns the mode.
    ``identity``: identity_samples.tsv when identity runs; a plasma-informed site needs a
    detection in a draw that passed it (a swapped draw's variants are another patient's)."""
    if tumour_variants:
        sites, mode = read_tumour_variants(tumour_variants), TUMOUR_INFORMED
    elif tracked:
        sites = plasma_informed_sites(read_tsv(tracked), read_left_out(identity))
        mode = PLASMA_INFORMED
        if ccf and Path(ccf).is_file() and not sites.empty:
            sites = clonal_weights(sites, read_tsv(ccf, dtype={"patient_id": str,
                                                               "sample_id": str, "chrom": str}))
    else:
        raise InputError("mrd: needs a tumour variant list or the tracked-variants table")
    if reference:
        with Reference(reference) as ref:
            table = finish_sites(sites, ref)
    else:
        table = finish_sites(sites)
    write_tsv(table.assign(mode=mode), out)
    return mode


def count_molecules(bam: str | Path, sites: pd.DataFrame, settings: MrdSettings) -> pd.DataFrame:
    """Informative and mutant molecules (deduplicated fragments, or consensus molecules when
    ``bam`` holds them) of one BAM at every distinct site: COUNT_COLUMNS, then with
    fragment-length weighting LENGTH_COUNT_COLUMNS (molecules of known length and short ones;
    a molecule of neither allele counts as of unknown length)."""
    if not settings.fragment_length_weighting:
        counted = count_sites(bam, count_table(sites), settings.read_filters)
        return counted.rename(columns={"alt_count": "mutant"})[COUNT_COLUMNS]
    counted = count_sites(bam, count_table(sites), settings.read_filters,
                          short_fragment_length=settings.short_fragment_length)
    counted["depth_short"] = counted["ref_short"] + counted["alt_short"]
    counted["depth_sized"] = counted["ref_sized"] + counted["alt_sized"]
    counted = counted.rename(columns={"alt_count": "mutant", "alt_short": "mutant_short",
                                      "alt_sized": "mutant_sized"})
    return counted[COUNT_COLUMNS + LENGTH_COUNT_COLUMNS]


def run_mrd_count_patient(bams: dict[str, str], sites_path: str | Path, out_dir: str | Path,
                          settings: MrdSettings, patient: str,
                          controls: Collection[str] = ()) -> None:
    """Count every sample of one ``patient`` (sample ID -> BAM ``bams``) into
    ``out_dir``/<sample>.counts.tsv (rule mrd_count: one job per patient, not per sample, keeps
    the job count of a large cohort down; docs/cluster.md): a sample in ``controls`` at every
    site, the others at the patient's own sites."""
    sites = read_tsv(sites_path, dtype={"patient_id": str, "chrom": str})
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for sample, bam in bams.items():
        if id_problem(sample):
            raise InputError(f"mrd: sample ID {sample!r}: {id_problem(sample)}")
        own = _own_sites(sites, None if sample in controls else patient)
        write_tsv(count_molecules(bam, own, settings), Path(out_dir) / f"{sample}.counts.tsv")


def _own_sites(sites: pd.DataFrame, patient: str | None) -> pd.DataFrame:
    """The sites a sample is counted at: all (``patient`` None: a control), else its patient's."""
    return sites if patient is None else sites[sites["patient_id"] == patient]


def _long_counts(counts: dict[str, pd.DataFrame]) -> pd.DataFrame:
    frames = []
    for sample, table in counts.items():
        t = table.copy()
        t["site_id"] = (t["chrom"].astype(str) + ":" + t["pos"].astype(str) + ":"
                        + t["ref"].astype(str) + ">" + t["alt"].astype(str))
        t["sample_id"] = sample
        lengths = LENGTH_COUNT_COLUMNS if has_length_counts(t) else []
        frames.append(t[["sample_id", "site_id", "mutant", "depth", *lengths]])
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["sample_id", "site_id", "mutant", "depth"])


def run_mrd_call(sites_path: str | Path, counts: dict[str, str], draws: pd.DataFrame,
                 settings: MrdSettings, out: str | Path, identity: str | Path | None = None
                 ) -> pd.DataFrame:
    """The calls of every plasma draw (``draws``: sample_id, patient_id, sample_type,
    timepoint_days of every counted sample) from the per-sample count files ``counts``; the
    mode (tumour- or plasma-informed) is the settings' (a tumour variant list or not).
    ``identity``: identity_samples.tsv when identity runs (see ``call.call_cohort``)."""
    sites = read_tsv(sites_path, dtype={"patient_id": str, "chrom": str, "found_in": str,
                                        "mode": str})
    mode = TUMOUR_INFORMED if settings.tumour_variants else PLASMA_INFORMED
    tables = {s: read_tsv(p, dtype={"chrom": str}) for s, p in sorted(counts.items())}
    left_out = read_left_out(identity) if identity else None
    calls = call_cohort(sites[SITE_COLUMNS], _long_counts(tables), draws, settings, mode,
                        left_out)
    write_tsv(calls, out)
    return calls


@dataclass(frozen=True)
class StandaloneInputs:
    """``plasmatrack mrd``: draws of one patient (BAMs, sample IDs, days), its variant list,
    and control BAMs (normals, healthy plasma) for the background."""

    bams: tuple[str, ...]
    variants: str
    controls: tuple[str, ...] = ()
    patient: str = "patient"
    timepoints: tuple[int | None, ...] = ()
    reference: str | None = None
    identity: str | None = None  # identity_samples.tsv: the rules' exclusion (call_cohort)


def _sample_id(bam: str) -> str:
    name = Path(bam).name.removesuffix(".bam")
    if id_problem(name):
        raise InputError(f"{bam}: the file name {name!r} is not a usable sample ID "
                         f"({id_problem(name)})")
    return name


def run_standalone(inputs: StandaloneInputs, settings: MrdSettings, out: str | Path
                   ) -> pd.DataFrame:
    """Tumour-informed calls of one patient's draws outside the pipeline; writes
    ``mrd_calls.tsv`` (and ``sites.tsv``) into the folder ``out``. With ``inputs.identity``,
    samples that failed identity are left out as the rule ``mrd_call`` leaves them out."""
    out = Path(out)
    variants = read_tumour_variants(inputs.variants, patient=inputs.patient)
    ref = Reference(inputs.reference) if inputs.reference else None
    try:
        sites = finish_sites(variants[variants["patient_id"] == inputs.patient], ref)
    finally:
        if ref is not None:
            ref.close()
    if sites.empty:
        raise InputError(f"{inputs.variants}: no variant of patient {inputs.patient!r}")
    days = list(inputs.timepoints) or [None] * len(inputs.bams)
    if len(days) != len(inputs.bams):
        raise InputError("mrd: --timepoints needs one value per --bams file")
    rows = [(_sample_id(b), inputs.patient, "plasma", d) for b, d in zip(inputs.bams, days)]
    rows += [(_sample_id(b), "control", "normal", None) for b in inputs.controls]
    draws = pd.DataFrame(rows, columns=["sample_id", "patient_id", "sample_type",
                                        "timepoint_days"])
    if draws["sample_id"].duplicated().any():
        raise InputError("mrd: two BAMs have the same file name (sample ID)")
    bams = dict(zip(draws["sample_id"], [*inputs.bams, *inputs.controls]))
    counts = {s: count_molecules(b, sites, settings) for s, b in bams.items()}
    left_out = read_left_out(inputs.identity) if inputs.identity else None
    calls = call_cohort(sites, _long_counts(counts), draws, settings, TUMOUR_INFORMED, left_out)
    out.mkdir(parents=True, exist_ok=True)
    write_tsv(sites, out / "sites.tsv")
    write_tsv(calls, out / "mrd_calls.tsv")
    return calls
