"""The variants each patient's draws are tested with (one row per patient x variant).

Tumour-informed: a TSV of the tumour's variants (patient_id, chrom, pos 1-based, ref, alt;
optional gene, ccf, multiplicity). Plasma-informed (no such TSV): the patient's somatic
variants the variants stage detected in any plasma draw, each with ``found_in``, the draws that
detected it, so that a draw is tested only with variants found in other draws.

``weight`` is the mutant allele fraction per unit tumour fraction: ccf x multiplicity / 2
(1/2 for a clonal heterozygous variant, the default)."""

from __future__ import annotations

import math
from typing import Collection

import pandas as pd

from ..errors import InputError, where
from ..ids import id_problem
from ..variants.classify import DETECTED, SOMATIC
from ..variants.sites import SNV, Reference, site_id, validate_sites
from .background import site_class

SITE_COLUMNS = ["patient_id", "chrom", "pos", "ref", "alt", "gene", "ccf", "multiplicity",
                "weight", "found_in", "site_id", "klass"]


def _number(value: str, path, line: int, field: str, low: float, high: float,
            problems: list[str]) -> float:
    if value in ("", None):
        return 1.0
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not low < number <= high:
        problems.append(f"{where(path, line, field)}: {value!r} is not a number in "
                        f"({low:g}, {high:g}]")
        return 1.0
    return number


def read_tumour_variants(path, patient: str | None = None) -> pd.DataFrame:
    """The tumour variant TSV as SITE_COLUMNS (header names in any case; ``patient`` fills a
    missing patient_id column, for a one-patient list). Errors name the file, row and column."""
    try:
        df = pd.read_csv(path, sep="\t", dtype=str, comment="#", keep_default_na=False)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read as a tab-separated table ({exc})") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    if "patient_id" not in df.columns:
        if patient is None:
            raise InputError(f"{path}: missing column patient_id (or name the patient)")
        df["patient_id"] = patient
    sites, _ = validate_sites(df, str(path), normalize=False)
    problems: list[str] = []
    ccf, mult = [], []
    for i, row in sites.iterrows():
        line = i + 2
        if id_problem(str(row["patient_id"])):
            problems.append(f"{where(path, line, 'patient_id')}: "
                            f"{id_problem(str(row['patient_id']))}")
        ccf.append(_number(row.get("ccf", ""), path, line, "ccf", 0.0, 1.0, problems))
        mult.append(_number(row.get("multiplicity", ""), path, line, "multiplicity", 0.0, 100.0,
                            problems))
    if problems:
        raise InputError(problems)
    sites["ccf"], sites["multiplicity"] = ccf, mult
    sites["found_in"] = ""
    return sites


def plasma_informed_sites(tracked: pd.DataFrame, left_out: Collection[str] = ()
                          ) -> pd.DataFrame:
    """The patients' somatic variants detected in plasma (rows of the tracked-variants table),
    with ``found_in``: the comma-separated draws that detected each. Draws in ``left_out``
    (failed sample identity) find no site."""
    hits = tracked[(tracked["sample_type"] == "plasma") & (tracked["category"] == SOMATIC)
                   & (tracked["status"] == DETECTED)
                   & ~tracked["sample_id"].astype(str).isin(list(left_out))]
    keys = ["patient_id", "chrom", "pos", "ref", "alt"]
    if hits.empty:
        return pd.DataFrame(columns=[*keys, "gene", "ccf", "multiplicity", "found_in"])
    out = hits.groupby(keys, sort=True).agg(
        gene=("gene", "first"), found_in=("sample_id", lambda s: ",".join(sorted(set(s)))))
    out = out.reset_index()
    out["ccf"], out["multiplicity"] = 1.0, 1.0
    return out


# A variant's CCF from the clonal stage is floored here: a near-zero estimate would make the
# variant carry no weight, and one weak draw should not silence it.
MIN_CLONAL_CCF = 0.05


def clonal_weights(sites: pd.DataFrame, ccf: pd.DataFrame) -> pd.DataFrame:
    """``sites`` with ccf and multiplicity from the clonal stage's table (per variant, the
    median over the patient's draws; ccf floored at MIN_CLONAL_CCF); variants the clonal stage
    did not fit keep theirs."""
    keys = ["patient_id", "chrom", "pos", "ref", "alt"]
    table = ccf.assign(pos=ccf["pos"].astype(int), chrom=ccf["chrom"].astype(str))
    medians = table.groupby(keys)[["ccf", "multiplicity"]].median()
    out = sites.assign(pos=sites["pos"].astype(int)).join(medians, on=keys, rsuffix="_clonal")
    out["ccf"] = out["ccf_clonal"].clip(lower=MIN_CLONAL_CCF, upper=1.0).fillna(out["ccf"])
    out["multiplicity"] = out["multiplicity_clonal"].clip(lower=1.0).fillna(out["multiplicity"])
    return out.drop(columns=["ccf_clonal", "multiplicity_clonal"])


def finish_sites(sites: pd.DataFrame, reference: Reference | None = None) -> pd.DataFrame:
    """SITE_COLUMNS: the weight, the site ID and the background class (trinucleotide context
    from ``reference`` when given), sorted by patient and position."""
    out = sites.copy()
    if "gene" not in out.columns:
        out["gene"] = ""
    out["pos"] = out["pos"].astype(int)
    out["weight"] = out["ccf"].astype(float) * out["multiplicity"].astype(float) / 2
    out["site_id"] = [site_id(c, p, r, a) for c, p, r, a in
                      zip(out["chrom"], out["pos"], out["ref"], out["alt"])]
    out["klass"] = [site_class(r, a, _context(reference, c, p) if len(r) == len(a) == 1 else None)
                    for c, p, r, a in zip(out["chrom"], out["pos"], out["ref"], out["alt"])]
    out = out.drop_duplicates(["patient_id", "site_id"])
    return out.sort_values(["patient_id", "chrom", "pos", "ref", "alt"]).reset_index(
        drop=True)[SITE_COLUMNS]


def _context(reference: Reference | None, chrom: str, pos: int) -> str | None:
    if reference is None or chrom not in reference.lengths:
        return None
    return reference.fetch(chrom, pos - 2, pos + 1)


def count_table(sites: pd.DataFrame) -> pd.DataFrame:
    """The distinct sites to count (chrom, pos, ref, alt, variant_type) for the pileup."""
    distinct = sites.drop_duplicates("site_id")[["chrom", "pos", "ref", "alt"]]
    distinct = distinct.reset_index(drop=True)
    distinct["variant_type"] = [SNV if len(r) == len(a) == 1 else None
                                for r, a in zip(distinct["ref"], distinct["alt"])]
    return distinct
