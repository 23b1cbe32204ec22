"""File edges of sample identity: the rules ``qc_fingerprint_sites``, ``qc_sample`` (the
per-sample fingerprint, in the QC job) and ``qc_identity``, and ``plasmatrack qc`` /
``plasmatrack qc-identity``, call these; they read and write, the computing is in ``identity``,
``identity_checks`` and ``identity_contamination``."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import read_tsv, write_tsv
from ..variants.pileup import ReadFilterSettings, count_sites
from ..variants.sites import Reference, read_sites
from .identity import (FINGERPRINT_COLUMNS, SITE_COLUMNS, IdentitySettings, stack_fingerprints)
from .identity_af import AF_COLUMN, population_af

log = logging.getLogger(__name__)


def _snv_sites(sites: pd.DataFrame, source: str) -> pd.DataFrame:
    """Biallelic SNV sites only (a position listed twice is multi-allelic: left out)."""
    snv = sites[(sites["ref"].str.len() == 1) & (sites["alt"].str.len() == 1)]
    snv = snv.drop_duplicates(["chrom", "pos", "ref", "alt"])
    snv = snv[~snv.duplicated(["chrom", "pos"], keep=False)]
    dropped = len(sites) - len(snv)
    if dropped:
        log.info("%s: %d non-SNV or multi-allelic site(s) left out", source, dropped)
    out = snv[["chrom", "pos", "ref", "alt"]].copy()
    out["pos"] = out["pos"].astype(np.int64)
    out["source"] = source
    return out.reset_index(drop=True)


def run_fingerprint_sites(out_tsv: str | Path, settings: IdentitySettings, reference: str | Path,
                          bams: list[str | Path] = (), panel: str | Path | None = None
                          ) -> pd.DataFrame:
    """Write the cohort's fingerprint sites (``SITE_COLUMNS`` and ``population_af``): the
    ``fingerprint_sites`` VCF when configured (checked against ``reference``; its INFO AF, when
    present, is the population allele frequency), else sites discovered in ``bams`` (the
    normals, or the plasma draws when there are none) on the ``panel`` targets."""
    if settings.fingerprint_sites:
        with Reference(reference) as ref:
            sites, _ = read_sites(settings.fingerprint_sites, ref, normalize=False)
        table = _snv_sites(sites, "fingerprint_sites")
        table[AF_COLUMN] = population_af(settings.fingerprint_sites, table)
    else:
        if panel is None:
            raise InputError("qc.identity: no fingerprint_sites VCF and no panel BED to discover "
                             "sites on; set qc.identity.fingerprint_sites")
        from .identity_sites import discover_sites  # only this cohort step needs it

        table = discover_sites([Path(b) for b in bams], panel, reference, settings)
        table[AF_COLUMN] = np.nan
    if table.empty:
        log.warning("no fingerprint sites: identity is undetermined for every sample")
    write_tsv(table[[*SITE_COLUMNS, AF_COLUMN]], out_tsv)
    return table


@dataclass(frozen=True)
class FingerprintJob:
    """A sample's fingerprint as part of its QC job (``qc.run_sample_qc``): the cohort's sites
    (``FINGERPRINT_SITES``), where to write the counts, and the ``qc.identity`` settings."""

    sites: str | Path
    out: str | Path
    settings: IdentitySettings


def run_fingerprint(bam: str | Path, sites_tsv: str | Path, out_tsv: str | Path,
                    settings: IdentitySettings) -> pd.DataFrame:
    """Count ref, alt and other fragments of ``bam`` at the fingerprint sites (the variants
    stage's counter: one fragment is one molecule) and write ``FINGERPRINT_COLUMNS``."""
    sites = read_sites_table(sites_tsv)
    filters = ReadFilterSettings(min_mapping_quality=settings.min_mapping_quality,
                                 min_base_quality=settings.min_base_quality)
    counts = count_sites(bam, sites.assign(variant_type="snv"), filters)
    write_tsv(counts[FINGERPRINT_COLUMNS], out_tsv)
    return counts[FINGERPRINT_COLUMNS]


def read_sites_table(path: str | Path) -> pd.DataFrame:
    """The fingerprint sites (``SITE_COLUMNS``); contig names stay text (hs37d5's ``1``)."""
    table = read_tsv(path, dtype={"chrom": str})
    missing = [c for c in SITE_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
    return table.astype({"pos": np.int64})


@dataclass(frozen=True)
class IdentityPaths:
    """Inputs and outputs of the cohort identity step."""

    fingerprints: list[str | Path]  # one per row of the sample sheet, in its order
    sites: str | Path
    identity: str | Path  # pairs (tables.IDENTITY)
    samples: str | Path  # per-sample verdicts (tables.IDENTITY_SAMPLES)


def run_identity(sheet: pd.DataFrame, paths: IdentityPaths, settings: IdentitySettings
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compare every sample of ``sheet`` (sample_id, patient_id, sample_type) with every other
    and write the pair table and the per-sample verdicts."""
    if len(paths.fingerprints) != len(sheet):
        raise InputError(f"{len(paths.fingerprints)} fingerprint tables for {len(sheet)} samples")
    tables = []
    for path in paths.fingerprints:
        table = read_tsv(path, dtype={"chrom": str})
        missing = [c for c in FINGERPRINT_COLUMNS if c not in table.columns]
        if missing:
            raise InputError(f"{path}: missing column(s) {', '.join(missing)}")
        tables.append(table)
    fp = stack_fingerprints(sheet[["sample_id", "patient_id", "sample_type"]], tables,
                            read_sites_table(paths.sites))
    from .identity_checks import identity_tables  # not needed by the per-sample fingerprint

    pairs, samples = identity_tables(fp, settings)
    write_tsv(pairs, paths.identity)
    write_tsv(samples, paths.samples)
    return pairs, samples
