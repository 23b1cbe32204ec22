"""Population allele frequencies of the fingerprint sites: the INFO field ``AF`` of the
``qc.identity.fingerprint_sites`` VCF (docs/qc.md, "Sample identity and contamination").

Only the contamination model has a use for them: its candidate contaminant from outside the
cohort (``population``) carries the other allele with the population's frequency, which the
cohort's own patients estimate crudely (a handful of genotypes per site) or not at all (a run of
one patient). Relatedness does not use them: the KING-robust estimate, as somalier's, counts
shared heterozygotes and opposite homozygotes and needs no allele frequency, and genotypes come
from each sample's own allele fraction. Discovered sites have none (NaN)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, where

# Appended to the fingerprint sites table (tables.FINGERPRINT_SITES) after its SITE_COLUMNS.
AF_COLUMN = "population_af"
_KEY = ["chrom", "pos", "ref", "alt"]


def _values(raw: object) -> list[object]:
    """The AF values of one record: a tuple (declared Number=A), one number (Number=1) or the
    text of an undeclared field (htslib then reads it as a String)."""
    if isinstance(raw, tuple):
        return list(raw)
    if isinstance(raw, str):
        return raw.split(",")
    return [raw]


def _frequency(value: object) -> float | None:
    """``value`` as an allele frequency in [0, 1], else None."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0.0 <= number <= 1.0 and not math.isnan(number) else None


def _check_header(path: Path, vcf) -> None:
    """A declared AF must be a float per ALT allele (Number=A; Number=1 for biallelic files)."""
    info = vcf.header.info.get("AF")
    if info is not None and (info.type != "Float" or str(info.number) not in ("A", "1")):
        raise InputError(f"{path}: INFO field 'AF' is declared Number={info.number}, "
                         f"Type={info.type}; a population allele frequency per ALT allele is "
                         "Number=A, Type=Float")


def read_population_af(path: str | Path) -> dict[tuple[str, int, str, str], float]:
    """{(chrom, pos, ref, alt): AF} of every ALT allele whose record has an AF; every value
    that is not a frequency in [0, 1], or a record with more or fewer values than ALT alleles,
    is an InputError naming the file, the record (``row`` = record number) and the field."""
    import pysam

    path = Path(path)
    found: dict[tuple[str, int, str, str], float] = {}
    problems: list[str] = []
    with pysam.VariantFile(str(path)) as vcf:
        _check_header(path, vcf)
        for number, record in enumerate(vcf, start=1):
            if "AF" not in record.info:
                continue
            alts = record.alts or ()
            values = _values(record.info["AF"])
            freqs = [_frequency(v) for v in values]
            if len(values) != len(alts) or None in freqs:
                problems.append(f"{where(path, number, 'INFO/AF')}: {values!r} at "
                                f"{record.chrom}:{record.pos} is not one allele frequency in "
                                f"[0, 1] per ALT allele ({len(alts)})")
                continue
            for alt, freq in zip(alts, freqs):
                found[(record.chrom, record.pos, record.ref.upper(), alt.upper())] = freq
    if problems:
        raise InputError(problems)
    return found


def population_af(path: str | Path, sites: pd.DataFrame) -> np.ndarray:
    """The VCF's AF for each row of ``sites`` (chrom, pos, ref, alt); NaN where it has none."""
    known = read_population_af(path)
    keys = zip(sites["chrom"].astype(str), sites["pos"].astype(int), sites["ref"], sites["alt"])
    return np.array([known.get(k, np.nan) for k in keys], dtype=float)


def site_frequencies(sites: pd.DataFrame, cohort_alt: np.ndarray) -> np.ndarray:
    """The population's alt frequency per site: the sites table's ``AF_COLUMN`` where known,
    else ``cohort_alt`` (the cohort's other patients')."""
    if AF_COLUMN not in sites:
        return cohort_alt
    given = pd.to_numeric(sites[AF_COLUMN], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(given), given, cohort_alt)
