"""HER2 metrics of every plasma draw from the earlier stages' published tables
(``results/cnv/tumour_fraction.tsv``, ``results/cnv/erbb2.tsv``,
``results/variants/tracked_variants.tsv``) or the same tables written by
:mod:`plasmatrack.import_calls` from another assay. A stage table that is absent is tolerated (its
components become NA and every row says so). Definitions: :mod:`plasmatrack.cohort`."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..consequence_terms import is_protein_altering
from ..errors import InputError
from ..io import as_bool, read_tsv
from .columns import DRAW_METRICS_COLUMNS
from .settings import METRICS, CohortSettings

# 'L266L' / 'p.T519T' (alteration lists) or HGVS 'L266=' / 'p.Leu266=' (the transcript model)
_SYNONYMOUS = re.compile(r"^(?:p\.)?(?:([A-Z*])(\d+)\1|[A-Za-z*]+\d+=)$")


def read_stage_table(path: str | Path | None, required: tuple[str, ...],
                     what: str) -> pd.DataFrame | None:
    """A stage table, or None when ``path`` is None or the file does not exist. Raises
    InputError naming the file when a required column is missing."""
    if path is None or str(path) == "" or not Path(path).exists():
        return None
    df = read_tsv(path)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"{path}: {what} table lacks column(s) {', '.join(missing)}")
    return df


def _numeric(df: pd.DataFrame, col: str, path: object) -> pd.Series:
    values = pd.to_numeric(df[col], errors="coerce")
    bad = df[col].notna() & values.isna()
    if bad.any():
        idx = int(np.flatnonzero(bad.values)[0])
        raise InputError(f"{path}, row {idx + 2}, column '{col}': {df[col].iloc[idx]!r} is not "
                         "a number")
    return values.astype(float)


def is_synonymous(protein_change: object) -> bool:
    """Protein notation of a silent change, e.g. 'L266L', 'p.T519T' or 'L266=' (not a HER2
    mutation)."""
    return bool(_SYNONYMOUS.match(str(protein_change).strip()))


def tumour_copy_number(pcn: pd.Series, tf: pd.Series, min_tf: float) -> pd.Series:
    """TF-adjusted tumour copy number 2 + (PCN - 2) / TF; NA where TF < ``min_tf`` (the ratio
    explodes as TF -> 0, so it is reported as not estimable, never as a huge number)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        cn = 2 + (pcn - 2) / tf
    return cn.where(tf >= min_tf)


def metric_values(df: pd.DataFrame, metric: str) -> pd.Series:
    """One burden metric from the component columns of a draw or burden table."""
    pcn = df["erbb2_plasma_copy_number"].astype(float)
    vaf = df["erbb2_mutation_vaf"].astype(float)
    if metric == "altered_copies":
        amp = (pcn - 2).clip(lower=0)
        mut = 2 * vaf
        # A missing component counts as 0 only when the other is known (the draw's note says so);
        # both missing -> NA.
        value = amp.fillna(0) + mut.fillna(0)
        return value.where(pcn.notna() | vaf.notna())
    if metric == "excess_copies":
        return (pcn - 2).clip(lower=0)
    if metric == "tumour_copy_number":
        return df["erbb2_tumour_copy_number"].astype(float)
    if metric == "tumour_fraction":
        return df["tumour_fraction"].astype(float)
    if metric == "mutation_vaf":
        return vaf
    raise InputError(f"unknown HER2 burden metric {metric!r} (one of: {', '.join(METRICS)})")


def draw_metrics(tf: pd.DataFrame | None, erbb2: pd.DataFrame | None,
                 variants: pd.DataFrame | None, her2_gene: str = "ERBB2",
                 samples: pd.DataFrame | None = None,
                 settings: CohortSettings = CohortSettings(),
                 sources: dict[str, object] | None = None) -> pd.DataFrame:
    """HER2 metrics of every plasma draw (one row per sample; columns DRAW_METRICS_COLUMNS).

    Draws are the plasma rows of ``samples`` when given, else every sample with a timepoint in
    the stage tables (normals have none). ``sources`` names the files in error messages."""
    sources = sources or {}
    draws = plasma_draws(tf, erbb2, variants, samples)
    notes: dict[str, list[str]] = {s: [] for s in draws["sample_id"]}
    _add_tumour_fraction(draws, tf, notes, sources.get("tumour_fraction", "tumour fraction table"))
    _add_copy_number(draws, erbb2, her2_gene, settings.min_tf_for_tumour_cn, notes,
                     sources.get("erbb2", "ERBB2 table"))
    _add_mutations(draws, variants, her2_gene, notes, sources.get("variants", "variants table"))
    draws["ctdna_detected"] = _ctdna_detected(draws)
    draws["her2_burden"] = metric_values(draws, settings.metric)
    draws["note"] = draws["sample_id"].map(lambda s: "; ".join(notes[s]))
    return draws[DRAW_METRICS_COLUMNS]


def plasma_draws(tf: pd.DataFrame | None, erbb2: pd.DataFrame | None,
                 variants: pd.DataFrame | None, samples: pd.DataFrame | None) -> pd.DataFrame:
    """patient_id, sample_id, timepoint_days (Int64) of every plasma draw, sorted by patient,
    day and sample: the plasma rows of ``samples``, else the draws the stage tables hold."""
    if samples is not None:
        plasma = samples[samples["sample_type"] == "plasma"]
        draws = plasma[["patient_id", "sample_id", "timepoint_days"]].copy()
    else:
        frames = [t[["patient_id", "sample_id", "timepoint_days"]]
                  for t in (tf, erbb2) if t is not None and "timepoint_days" in t]
        if variants is not None and "timepoint_days" in variants:
            v = variants
            if "sample_type" in v:
                v = v[v["sample_type"].astype(str) != "normal"]
            frames.append(v[["patient_id", "sample_id", "timepoint_days"]])
        if not frames:
            raise InputError("no stage table with sample_id, patient_id and timepoint_days given")
        draws = pd.concat(frames).drop_duplicates("sample_id")
        draws = draws[pd.to_numeric(draws["timepoint_days"], errors="coerce").notna()]
    draws = draws.copy()
    draws["timepoint_days"] = pd.to_numeric(draws["timepoint_days"]).astype("Int64")
    return draws.sort_values(["patient_id", "timepoint_days", "sample_id"]).reset_index(drop=True)


def _add_tumour_fraction(draws: pd.DataFrame, tf: pd.DataFrame | None,
                         notes: dict[str, list[str]], src: object) -> None:
    """tumour_fraction, tf_lower, tf_upper, tf_detected of each draw (NA without a table)."""
    if tf is None:
        for col in ("tumour_fraction", "tf_lower", "tf_upper"):
            draws[col] = np.nan
        draws["tf_detected"] = pd.Series(pd.NA, index=draws.index, dtype="boolean")
        for sid in draws["sample_id"]:
            notes[sid].append("no tumour-fraction table")
        return
    t = tf.drop_duplicates("sample_id").set_index("sample_id")
    draws["tumour_fraction"] = draws["sample_id"].map(_numeric(t, "tumour_fraction", src))
    for col in ("tf_lower", "tf_upper"):
        draws[col] = draws["sample_id"].map(_numeric(t, col, src)) if col in t else np.nan
    draws["tf_detected"] = (draws["sample_id"].map(as_bool(t["tf_detected"]))
                            if "tf_detected" in t else pd.NA)
    draws["tf_detected"] = draws["tf_detected"].astype("boolean")
    for sid in draws.loc[draws["tumour_fraction"].isna(), "sample_id"]:
        notes[sid].append("no tumour fraction for this draw")


def _add_copy_number(draws: pd.DataFrame, erbb2: pd.DataFrame | None, her2_gene: str,
                     min_tf: float, notes: dict[str, list[str]], src: object) -> None:
    """The HER2 gene's plasma and tumour copy number, amplification and excess copies."""
    if erbb2 is None:
        draws["erbb2_plasma_copy_number"] = np.nan
        draws["erbb2_tumour_copy_number"] = np.nan
        draws["erbb2_amplified"] = pd.Series(pd.NA, index=draws.index, dtype="boolean")
        for sid in draws["sample_id"]:
            notes[sid].append(f"no {her2_gene} copy-number table: amplification not included")
    else:
        e = erbb2
        if "gene" in e:
            e = e[e["gene"].astype(str) == her2_gene]
        e = e.drop_duplicates("sample_id").set_index("sample_id")
        pcn = draws["sample_id"].map(_numeric(e, "plasma_copy_number", src))
        draws["erbb2_plasma_copy_number"] = pcn
        if "tumour_copy_number" in e:
            draws["erbb2_tumour_copy_number"] = draws["sample_id"].map(
                _numeric(e, "tumour_copy_number", src))
        else:
            draws["erbb2_tumour_copy_number"] = tumour_copy_number(
                pcn, draws["tumour_fraction"], min_tf)
        draws["erbb2_amplified"] = (draws["sample_id"].map(as_bool(e["amplified"]))
                                    if "amplified" in e else pd.NA)
        draws["erbb2_amplified"] = draws["erbb2_amplified"].astype("boolean")
        for sid in draws.loc[pcn.isna(), "sample_id"]:
            notes[sid].append(f"no {her2_gene} copy number for this draw")
    draws["erbb2_excess_copies"] = draws["erbb2_plasma_copy_number"] - 2


def _add_mutations(draws: pd.DataFrame, variants: pd.DataFrame | None, her2_gene: str,
                   notes: dict[str, list[str]], src: object) -> None:
    """The HER2 mutant VAF and its label per draw, and the number of detected somatic
    variants (ctDNA detection by variants)."""
    if variants is None:
        draws["erbb2_mutation_vaf"] = np.nan
        draws["erbb2_mutation"] = ""
        draws["n_somatic_detected"] = pd.Series(pd.NA, index=draws.index, dtype="Int64")
        for sid in draws["sample_id"]:
            notes[sid].append(f"no variant table: {her2_gene} mutant VAF not included")
        return
    v = variants.copy()
    v["vaf"] = _numeric(v, "vaf", src)
    somatic = v[v["category"].astype(str) == "somatic"]
    her2 = somatic[somatic["gene"].astype(str) == her2_gene]
    if "protein_change" in her2:
        her2 = her2[~her2["protein_change"].map(is_synonymous)]
    if "consequence" in her2:  # the transcript model's class: protein-altering only (issue 24)
        her2 = her2[her2["consequence"].map(is_protein_altering)]
    best = _best_her2_variant(her2)
    vaf = draws["sample_id"].map(best.set_index("sample_id")["vaf"])
    is_mutant = draws["patient_id"].isin(set(her2["patient_id"]))
    draws["erbb2_mutation_vaf"] = vaf.where(is_mutant, 0.0)
    draws["erbb2_mutation"] = draws["sample_id"].map(_variant_labels(best)).where(is_mutant, "")
    for sid in draws.loc[is_mutant & vaf.isna(), "sample_id"]:
        notes[sid].append(f"{her2_gene} variant of the patient not measured or undetermined "
                          "in this draw")
    detected = somatic[somatic["status"].astype(str) == "detected"]
    counts = detected.groupby("sample_id").size()
    draws["n_somatic_detected"] = draws["sample_id"].map(counts).fillna(0).astype(int)


def _best_her2_variant(her2: pd.DataFrame) -> pd.DataFrame:
    """Per sample, the HER2 variant row with the largest VAF after status: a variant that
    tested negative counts as 0 (its measured VAF is background noise); one that is
    undetermined (too few informative fragments) as unknown."""
    status = her2["status"].astype(str)
    her2 = her2.assign(vaf=her2["vaf"].where(status == "detected",
                                             np.where(status == "not_detected", 0.0, np.nan)))
    return her2.sort_values("vaf", ascending=False, na_position="last") \
        .drop_duplicates("sample_id")


def _variant_labels(best: pd.DataFrame) -> pd.Series:
    """Per sample, the variant's protein change or alteration, else chrom:pos ref>alt."""
    label_col = next((c for c in ("protein_change", "alteration") if c in best), None)
    if label_col:
        return best.set_index("sample_id")[label_col]
    if not len(best):
        return pd.Series(dtype=str)
    return best.set_index("sample_id").apply(
        lambda r: f"{r.get('chrom', '')}:{r.get('pos', '')}"
                  f"{r.get('ref', '')}>{r.get('alt', '')}", axis=1)


def _ctdna_detected(draws: pd.DataFrame) -> pd.Series:
    """ctDNA detected: by copy number (tf_detected) or by any detected somatic variant; NA
    when neither is known."""
    tf_det = draws["tf_detected"].astype("boolean")
    var_det = (draws["n_somatic_detected"].astype("Int64") > 0).astype("boolean")
    detected = tf_det.fillna(False) | var_det.fillna(False)
    known = tf_det.notna() | var_det.notna()
    return detected.where(known, pd.NA).astype("boolean")
