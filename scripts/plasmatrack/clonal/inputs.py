"""The clonal stage's inputs from the published tables of earlier stages.

* Variants: ``results/variants/tracked_variants.tsv`` rows with ``category == somatic`` in plasma
  draws (the matched normal is left out); by default only variants detected in at least one
  plasma draw are clustered (the others are listed with the flag ``not_detected``).
* Tumour content per draw (``tumour_content``): ``snv`` = the variants stage's
  ``tumour_fraction_snv`` (2 x VAF of the clonal copy-neutral SNVs: the truncal clone's own
  scale), ``cnv`` = the copy-number HMM's ``tumour_fraction`` (0 when ``tf_detected`` is false),
  ``max`` (default) = the larger of the two (each where available), ``auto`` = snv where it rests
  on at least one variant and is > 0, else cnv. ``max`` because the error that the stage can
  repair is the one that reads too high: the trunk normalisation lowers a draw's tumour content
  until the trunk reads CCF 1, but nothing can raise one that is too low (CCFs are capped at 1,
  and a subclone then reads as the trunk). The SNV estimate reads low when its clonal set is
  really a subclone, or when one clonal SNV has a poor draw. A draw
  whose tumour content is ~0 carries no information on clone composition: its prevalences are
  reported as not estimable.
* Local tumour copy number per variant (``copy_number``): ``segments`` (default) converts the
  log2 ratio of the CNVkit segment holding the variant in each draw, whose ratios are centred on
  the sample's median bin, into tumour copy number  CN = (2^log2 m - 2 (1 - t)) / t, where m is
  the plasma copy number of the centre: m = 2 (1 - t') + psi' t' from the copy-number HMM's fit
  (tumour_fraction_fit t', ploidy_fit psi' in tumour_fraction.tsv; the HMM fits the centre's
  level), else 2 (1 - t) + psi t from the reported TF and ploidy, 2 when absent (then this is the
  textbook 2 + (2 x 2^log2 - 2) / t). t is the draw's tumour content. Copy number is clonal and
  shared by the draws, but its estimate is only as good as the draw's TF, so the variant's CN is the
  t^2-weighted mean over draws with t >= ``min_tf_for_copy_number`` (the CN's standard error
  scales as 1/t), rounded and clamped to [1, ``max_copy_number``]; 2 when no draw qualifies.
  ``table`` reads a segments table (chrom, start, end, tumour_copy_number, optional major_cn,
  minor_cn, optional patient_id; 0-based half-open like truth/segments.tsv), ``neutral`` sets 2.
  Without allele-specific copy numbers the largest multiplicity considered is ceil(CN / 2)
  (the major allele holds at least half the copies; CN 2 is taken as heterozygous)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom

from ..config import schema_default
from ..errors import InputError, where
from ..io import as_bool, read_tsv
from .ccf import MutationData, expected_vaf

TRACKED_REQUIRED = ("patient_id", "sample_id", "sample_type", "timepoint_days", "chrom", "pos",
                    "ref", "alt", "gene", "ref_count", "alt_count", "category")
TF_REQUIRED = ("sample_id", "tumour_fraction")
SNV_TF_REQUIRED = ("sample_id", "tumour_fraction_snv", "n_variants")
DEFAULT_ERROR_RATE = 1e-4
# Optional tracked-variant columns carried to the clonal tables (empty when absent).
ANNOTATION_COLUMNS = ("source", "consequence", "transcript", "hgvs_c", "hgvs_p")


@dataclass
class InputSettings:
    """What the clonal stage reads (config ``clonal``; defaults from the schema)."""

    tumour_content: str = schema_default("clonal.tumour_content")  # max | auto | snv | cnv
    copy_number: str = schema_default("clonal.copy_number")  # segments | table | neutral
    copy_number_table: str | None = schema_default("clonal.copy_number_table")
    min_tf_for_copy_number: float = schema_default("clonal.min_tf_for_copy_number")
    max_copy_number: int = schema_default("clonal.max_copy_number")
    require_detected: bool = schema_default("clonal.require_detected")
    min_tumour_content: float = 0.001
    # p-value of copy_number_outliers: with total copy numbers only, a variant 1.5-fold over one
    # allele is read as LOH; one still 2-fold over all its copies is left out of the clustering.
    copy_number_outlier_p: float = schema_default("clonal.copy_number_outlier_p")


@dataclass
class PatientInput:
    patient_id: str
    data: MutationData | None  # variants to cluster (None when there are none)
    timepoints: dict[str, float]  # plasma sample -> timepoint_days
    tumour_content_source: dict[str, str]
    excluded: pd.DataFrame  # somatic variants not clustered (annotation columns + flags)
    notes: list[str]


def _require(df: pd.DataFrame, cols: tuple[str, ...], path) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(repr(c) for c in missing)}")


def _numeric(df: pd.DataFrame, col: str, path, allow_na: bool = False) -> pd.Series:
    values = pd.to_numeric(df[col], errors="coerce")
    bad = values.isna() & (df[col].notna() if allow_na else True)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{where(path, i + 2, col)}: {df[col].iloc[i]!r} is not a number")
    return values


def read_tracked(path: str | os.PathLike) -> pd.DataFrame:
    df = read_tsv(path, dtype={"sample_id": str, "patient_id": str, "chrom": str, "ref": str,
                               "alt": str, "gene": str})
    _require(df, TRACKED_REQUIRED, path)
    for col in ("pos", "ref_count", "alt_count"):
        df[col] = _numeric(df, col, path)
    df["timepoint_days"] = pd.to_numeric(df["timepoint_days"], errors="coerce")
    for col in ("gene", "protein_change", "status", "background_rate"):
        if col not in df:
            df[col] = np.nan
    df["gene"] = df["gene"].fillna("")
    # issue 24: the transcript model's columns and the site source (hotspot names lead labels)
    for col in ANNOTATION_COLUMNS:
        df[col] = df[col].fillna("").astype(str) if col in df else ""
    return df


def read_tumour_fraction(path: str | os.PathLike) -> pd.DataFrame:
    df = read_tsv(path)
    _require(df, TF_REQUIRED, path)
    df["tumour_fraction"] = _numeric(df, "tumour_fraction", path, allow_na=True)
    if "tf_detected" in df:
        det = as_bool(df["tf_detected"]).fillna(False).to_numpy(bool)
        df["tumour_fraction"] = np.where(det, df["tumour_fraction"], 0.0)
    if "ploidy" not in df:
        df["ploidy"] = 2.0
    df["ploidy"] = pd.to_numeric(df["ploidy"], errors="coerce").fillna(2.0)
    # The plasma copy number at log2 0 (what the sample's ratios are centred on): from the HMM's
    # own fit (tumour_fraction_fit, ploidy_fit: the level it fitted the centre to, whatever the
    # detection call) where the table has them, else from the reported TF and ploidy.
    tf_rep = df["tumour_fraction"].fillna(0.0)
    centre = 2.0 * (1.0 - tf_rep) + df["ploidy"] * tf_rep
    if {"tumour_fraction_fit", "ploidy_fit"} <= set(df.columns):
        t_fit = pd.to_numeric(df["tumour_fraction_fit"], errors="coerce")
        p_fit = pd.to_numeric(df["ploidy_fit"], errors="coerce")
        fitted = 2.0 * (1.0 - t_fit) + p_fit * t_fit
        centre = fitted.where(np.isfinite(fitted), centre)
    df["centre_copy_number"] = centre
    return df


def read_snv_tf(path: str | os.PathLike) -> pd.DataFrame:
    df = read_tsv(path)
    _require(df, SNV_TF_REQUIRED, path)
    df["tumour_fraction_snv"] = _numeric(df, "tumour_fraction_snv", path, allow_na=True)
    df["n_variants"] = pd.to_numeric(df["n_variants"], errors="coerce").fillna(0)
    return df


def read_segments(path: str | os.PathLike) -> pd.DataFrame:
    """A CNVkit .cns (chromosome, start, end, log2) or a segments table (chrom, start, end,
    tumour_copy_number[, major_cn, minor_cn, patient_id]); coordinates 0-based half-open."""
    df = read_tsv(path, dtype={"chromosome": str, "chrom": str, "patient_id": str})
    if "chromosome" in df and "chrom" not in df:
        df = df.rename(columns={"chromosome": "chrom"})
    _require(df, ("chrom", "start", "end"), path)
    if "log2" not in df and "tumour_copy_number" not in df:
        raise InputError(f"{path}: needs a 'log2' (CNVkit .cns) or 'tumour_copy_number' column")
    for col in ("start", "end"):
        df[col] = _numeric(df, col, path)
    return df.sort_values(["chrom", "start"]).reset_index(drop=True)


def lookup_segments(segments: pd.DataFrame, chrom: pd.Series, pos1: pd.Series,
                    column: str) -> np.ndarray:
    """Value of ``column`` of the segment holding each 1-based position (NaN outside segments)."""
    out = np.full(len(chrom), np.nan)
    chrom = chrom.to_numpy()
    pos0 = pos1.to_numpy(dtype=float) - 1.0
    for c, seg in segments.groupby("chrom", sort=False):
        idx = np.flatnonzero(chrom == c)
        if idx.size == 0:
            continue
        starts = seg["start"].to_numpy(float)
        ends = seg["end"].to_numpy(float)
        j = np.searchsorted(starts, pos0[idx], side="right") - 1
        ok = (j >= 0) & (pos0[idx] < ends[np.clip(j, 0, None)])
        vals = seg[column].to_numpy(float)
        out[idx[ok]] = vals[j[ok]]
    return out


def tumour_cn_from_log2(log2, t, ploidy=2.0, centre=None):
    """Tumour copy number from a plasma log2 ratio centred on the sample's mean copy number:
    ``centre`` (the plasma copy number at log2 0) when given, else 2 (1 - t) + ploidy t."""
    t = np.asarray(t, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_cn = 2.0 * (1.0 - t) + ploidy * t if centre is None else centre
        return (np.power(2.0, log2) * mean_cn - 2.0 * (1.0 - t)) / t


def choose_tumour_content(samples: list[str], tf: pd.DataFrame | None, snv: pd.DataFrame | None,
                          mode: str) -> tuple[dict[str, float], dict[str, str]]:
    """Tumour content and its source per sample (see module docstring)."""
    cnv_tf = {} if tf is None else dict(zip(tf["sample_id"], tf["tumour_fraction"]))
    snv_tf = {}
    if snv is not None:
        ok = (snv["n_variants"] >= 1) & (snv["tumour_fraction_snv"] > 0)
        snv_tf = dict(zip(snv.loc[ok, "sample_id"], snv.loc[ok, "tumour_fraction_snv"]))
    values, sources = {}, {}
    for s in samples:
        value, source = np.nan, "none"
        has_cnv = s in cnv_tf and not pd.isna(cnv_tf[s])
        if mode == "max" and (s in snv_tf or has_cnv):
            # available estimates only; on a tie the SNV estimate (the trunk's own scale)
            found = [(snv_tf[s], "snv")] if s in snv_tf else []
            found += [(cnv_tf[s], "cnv")] if has_cnv else []
            value, source = max(found, key=lambda pair: pair[0])
        elif mode in ("auto", "snv") and s in snv_tf:
            value, source = snv_tf[s], "snv"
        elif mode in ("auto", "cnv") and has_cnv:
            value, source = cnv_tf[s], "cnv"
        values[s] = 0.0 if pd.isna(value) else float(min(max(value, 0.0), 1.0))
        sources[s] = source
    return values, sources


def patient_inputs(tracked: pd.DataFrame, tf: pd.DataFrame | None, snv: pd.DataFrame | None,
                   segments: dict[str, pd.DataFrame], settings: InputSettings,
                   cn_table: pd.DataFrame | None = None,
                   left_out: dict[str, str] | None = None) -> list[PatientInput]:
    """One PatientInput per patient in ``tracked`` (sorted by patient id). ``segments``: sample ->
    its CNVkit segments (used when copy_number == 'segments'). ``left_out``: sample -> reason
    (failed identity); those draws are not fitted and the patient's notes name them."""
    out = []
    plasma = tracked[tracked["sample_type"].astype(str) != "normal"]
    left_out = left_out or {}
    failed = plasma["sample_id"].isin(left_out)
    for patient in sorted(tracked["patient_id"].unique()):
        mine = plasma["patient_id"] == patient
        rows = plasma[mine & ~failed]
        notes = [f"{s} {left_out[s]}" for s in sorted(set(plasma.loc[mine & failed, "sample_id"]))]
        draws = (rows[["sample_id", "timepoint_days"]].drop_duplicates("sample_id")
                 .sort_values(["timepoint_days", "sample_id"], kind="stable"))
        samples = list(draws["sample_id"])
        timepoints = dict(zip(draws["sample_id"], draws["timepoint_days"]))
        som = rows[rows["category"] == "somatic"].copy()
        som["mutation_id"] = (som["chrom"].astype(str) + ":" + som["pos"].astype(int).astype(str)
                              + ":" + som["ref"].astype(str) + ">" + som["alt"].astype(str))
        tc, sources = choose_tumour_content(samples, tf, snv, settings.tumour_content)
        ann_cols = ["mutation_id", "chrom", "pos", "ref", "alt", "gene", "protein_change",
                    *[c for c in ANNOTATION_COLUMNS if c in som]]
        ann = som[ann_cols].drop_duplicates("mutation_id").sort_values(
            ["chrom", "pos", "ref", "alt"], kind="stable").reset_index(drop=True)
        excluded = ann.iloc[0:0].assign(flags=pd.Series(dtype=str))
        if settings.require_detected and "status" in som and som["status"].notna().any():
            seen = set(som.loc[som["status"] == "detected", "mutation_id"])
            drop = ~ann["mutation_id"].isin(seen)
            if drop.any():
                excluded = ann[drop].assign(flags="not_detected")
                notes.append(f"{int(drop.sum())} somatic variant(s) never detected in a plasma "
                             "draw were not clustered")
            ann = ann[~drop].reset_index(drop=True)
        if ann.empty or not samples:
            out.append(PatientInput(patient, None, timepoints, sources, excluded,
                                    notes + ["no somatic variant to cluster"]))
            continue
        data, major_given = _mutation_data(patient, som, ann, samples, tc, tf, segments,
                                           settings, cn_table, notes)
        # where only total copy numbers are known, more mutant fragments than one allele gives
        # (1.5-fold: a copy-neutral LOH reads 2-fold, noise included) means every copy may carry
        # the mutation (loss of heterozygosity, e.g. at TP53); then whatever still exceeds all
        # its copies 2-fold is set aside
        over = copy_number_outliers(data, settings.copy_number_outlier_p, min_fold=1.5)
        if over.any():
            loh = over & ~major_given & (data.major_cn < data.tumour_cn).any(axis=1)
            data.major_cn[loh] = data.tumour_cn[loh]
            over = copy_number_outliers(data, settings.copy_number_outlier_p)
            kept = loh & ~over
            if kept.any():
                notes.append(f"{int(kept.sum())} variant(s) with more mutant fragments than one "
                             f"allele of their copy number could give "
                             f"({_names(data.annotations[kept])}): loss of heterozygosity "
                             "assumed (every copy may carry the mutation)")
        if over.any():
            gone = data.annotations[over]
            excluded = pd.concat([excluded, gone[ann_cols].assign(flags="vaf_exceeds_copy_number")],
                                 ignore_index=True)
            notes.append(f"{int(over.sum())} variant(s) with more mutant fragments than a clonal "
                         f"variant on every copy could give ({_names(gone)}) were not "
                         "clustered (flag vaf_exceeds_copy_number): their copy number is "
                         "probably underestimated")
            data = subset_mutations(data, ~over)
        if data is None:
            out.append(PatientInput(patient, None, timepoints, sources, excluded,
                                    notes + ["no somatic variant to cluster"]))
            continue
        out.append(PatientInput(patient, data, timepoints, sources, excluded, notes))
    return out


def _names(annotations: pd.DataFrame) -> str:
    """'TP53 chr17:7577120:C>T, ...' for notes."""
    return ", ".join(f"{g} {m}".strip() for g, m in zip(annotations["gene"].fillna(""),
                                                       annotations["mutation_id"]))


def copy_number_outliers(data: MutationData, p_max: float = 1e-6,
                         min_fold: float = 2.0) -> np.ndarray:
    """Variants no CCF can explain: in some draw with tumour content their mutant fragments exceed,
    at one-sided binomial p < ``p_max`` and over ``min_fold``-fold, the VAF of a clonal variant on
    all of its major copies. Such a variant (a focal amplicon whose copy number was not
    measured, e.g. at TF < ``min_tf_for_copy_number``) would otherwise be explained only by a
    huge overdispersion, which blurs every other variant of the patient. A draw where most
    variants exceed it says the tumour content is low there, not the copy numbers, and is
    skipped. Returns a boolean mask over variants."""
    depth = data.depth
    vmax = expected_vaf(1.0, data.major_cn, data.tumour_content, data.tumour_cn, data.normal_cn,
                        data.error_rate)
    ok = (data.tumour_content > 0) & (depth > 0)
    p = np.where(ok, binom.sf(data.alt - 1, depth, np.clip(vmax, 1e-9, 1.0)), 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        fold = np.where(ok, data.alt / np.maximum(depth, 1) / np.maximum(vmax, 1e-9), 0.0)
    bad = ok & (p < p_max) & (fold > min_fold)
    n = bad.shape[0]
    trusted = bad.sum(axis=0) <= n / 2  # per draw
    return (bad & trusted[None, :]).any(axis=1)


def subset_mutations(data: MutationData, keep: np.ndarray) -> MutationData | None:
    """The variants of ``data`` where ``keep``; None when none is kept."""
    keep = np.asarray(keep, dtype=bool)
    if not keep.any():
        return None
    ids = [m for m, k in zip(data.mutation_ids, keep) if k]
    return MutationData(ids, list(data.sample_ids), data.ref[keep], data.alt[keep],
                        data.tumour_content[keep], data.tumour_cn[keep], data.major_cn[keep],
                        data.normal_cn[keep], data.error_rate[keep],
                        annotations=data.annotations[keep].reset_index(drop=True))


def _mutation_data(patient, som, ann, samples, tc, tf, segments, settings, cn_table, notes):
    n, d = len(ann), len(samples)
    mi = {m: i for i, m in enumerate(ann["mutation_id"])}
    si = {s: j for j, s in enumerate(samples)}
    som = som[som["mutation_id"].isin(mi)]
    r = som["mutation_id"].map(mi).to_numpy()
    c = som["sample_id"].map(si).to_numpy()
    ref = np.zeros((n, d))
    alt = np.zeros((n, d))
    err = np.full((n, d), DEFAULT_ERROR_RATE)
    ref[r, c] = som["ref_count"].to_numpy(float)
    alt[r, c] = som["alt_count"].to_numpy(float)
    bg = pd.to_numeric(som["background_rate"], errors="coerce").to_numpy(float)
    err[r, c] = np.where(np.isfinite(bg), np.clip(bg, 1e-5, 0.05), DEFAULT_ERROR_RATE)
    t = np.array([tc[s] for s in samples])
    t = np.where(t >= settings.min_tumour_content, t, 0.0)
    cn, major, major_given = _copy_numbers(patient, ann, samples, t, tf, segments, settings,
                                           cn_table, notes)
    tcn = np.tile(cn[:, None], (1, d))
    data = MutationData(
        list(ann["mutation_id"]), list(samples), ref, alt, np.tile(t, (n, 1)), tcn,
        np.tile(major[:, None], (1, d)), np.full((n, d), 2.0), err,
        annotations=ann.reset_index(drop=True),
    )
    return data, major_given


def _copy_numbers(patient, ann, samples, t, tf, segments, settings, cn_table, notes):
    n = len(ann)
    cn = np.full(n, 2.0)
    major = None
    if settings.copy_number == "table" and cn_table is not None:
        seg = cn_table
        if "patient_id" in seg:
            seg = seg[seg["patient_id"].astype(str) == patient]
        if "tumour_copy_number" in seg:
            val = lookup_segments(seg, ann["chrom"].astype(str), ann["pos"], "tumour_copy_number")
            cn = np.where(np.isfinite(val), val, 2.0)
        if "major_cn" in seg:
            mj = lookup_segments(seg, ann["chrom"].astype(str), ann["pos"], "major_cn")
            major = np.where(np.isfinite(mj), mj, np.nan)
    elif settings.copy_number == "segments":
        centre = {} if tf is None else dict(zip(tf["sample_id"], tf["centre_copy_number"]))
        num = np.zeros(n)
        den = np.zeros(n)
        for j, s in enumerate(samples):
            if t[j] < settings.min_tf_for_copy_number or s not in segments:
                continue
            seg = segments[s]
            if "log2" not in seg:
                continue
            log2 = lookup_segments(seg, ann["chrom"].astype(str), ann["pos"], "log2")
            est = tumour_cn_from_log2(log2, t[j], centre=centre.get(s, 2.0))
            ok = np.isfinite(est)
            num[ok] += t[j] ** 2 * est[ok]
            den[ok] += t[j] ** 2
        with np.errstate(invalid="ignore", divide="ignore"):
            cn = np.where(den > 0, num / den, 2.0)
        if not (den > 0).any():
            notes.append("no draw with tumour fraction >= "
                         f"{settings.min_tf_for_copy_number:g} and segments: copy number 2 assumed")
    cn = np.clip(np.rint(cn), 1, settings.max_copy_number)
    given = np.zeros(n, dtype=bool) if major is None else np.isfinite(major)
    major = np.where(given, major if major is not None else 0.0, cn - 1.0)
    return cn, np.clip(major, 1, None), given


def load_cns_files(paths: dict[str, str | os.PathLike]) -> dict[str, pd.DataFrame]:
    """Sample -> segments for every existing path (a missing file is an error naming it)."""
    out = {}
    for sample, path in paths.items():
        if not Path(path).is_file():
            raise InputError(f"{path}: segments file of sample {sample!r} not found")
        out[sample] = read_segments(path)
    return out

