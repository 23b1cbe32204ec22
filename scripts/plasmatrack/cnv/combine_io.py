"""The published tumour fraction (rule ``cnv_combine``, ``plasmatrack cnv-combine``): reads the
copy-number table, the SNV table and the tracked variants, gathers the BAF evidence and writes
the combined table (the method: :mod:`.combine`, docs/cnv.md "Combined tumour fraction")."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pandas as pd

from ..io import read_tsv, write_tsv

if TYPE_CHECKING:
    from .copy_number_scale import ScaleChoice
    from .snv_copy_number import PatientCopyNumber

log = logging.getLogger(__name__)


def baf_draws(cn: pd.DataFrame, tracked: pd.DataFrame, states: dict[str, pd.DataFrame],
              source: str = "tracked_variants.tsv"
              ) -> tuple[pd.DataFrame, dict[str, PatientCopyNumber]]:
    """BAF tumour fractions of every patient's plasma draws (``baf.DRAW_COLUMNS`` plus
    ``tf_baf_p_value``), and per patient the segments they were fitted on (``baf.SEGMENT_COLUMNS``
    plus ``amp``: total and fitted minor copy number) with the normal's allelic overdispersion,
    for the SNV estimate with copy number.
    Each patient's segments come from the copy-number states of its draw with the largest
    copy-number LLR (the one whose path is best supported)."""
    from .baf import DRAW_COLUMNS, fit_baf, segments_from_states
    from .combine import baf_p_value
    from .snv_copy_number import PatientCopyNumber

    parts, segments = [], {}
    plasma = cn[cn["sample_type"].astype(str) == "plasma"]
    for patient, rows in plasma.groupby("patient_id", sort=True):
        mine = tracked[tracked["patient_id"].astype(str) == str(patient)]
        with_states = rows[rows["sample_id"].isin(states)]
        if mine.empty or with_states.empty:
            continue
        reference = str(with_states.loc[with_states["llr"].astype(float).idxmax(), "sample_id"])
        fit = fit_baf(mine, {reference: states[reference]}, reference, source=source)
        parts.append(fit.draws)
        runs = segments_from_states(states[reference], f"{reference}.hmm_states.tsv")
        segs = (fit.segments.assign(amp=runs["amp"].to_numpy()) if
                len(fit.segments) == len(runs) else runs.assign(minor_copy=float("nan")))
        segments[str(patient)] = PatientCopyNumber(
            segs, fit.noise.overdispersion if fit.noise is not None else 0.0)
    table = (pd.concat(parts, ignore_index=True) if parts
             else pd.DataFrame(columns=DRAW_COLUMNS))
    table["tf_baf_p_value"] = [baf_p_value(float(v)) for v in table["llr_baf"]]
    return table, segments


def cn_trusted(cn: pd.DataFrame, alpha: float) -> set[str]:
    """Patients whose HMM path may give the SNVs' copy numbers: a plasma draw's copy-number fit
    is detected on its own (``tf_cn_p_value <= alpha``). At a TF the copy number cannot see,
    its path is noise (the demo's P02 at TF 0.02: a copy-number-1 state and a copy-neutral LOH
    where the tumour has neither). Which scale of the path the SNVs are read on is chosen by
    the allele fractions (``copy_number_scale``), not gated on the fitted ploidy."""
    if "tf_cn_p_value" not in cn:
        return set()
    plasma = cn[cn["sample_type"].astype(str) == "plasma"]
    p = pd.to_numeric(plasma["tf_cn_p_value"], errors="coerce")
    return set(plasma.loc[p <= alpha, "patient_id"].astype(str))


def choose_scales(cn: pd.DataFrame, tracked: pd.DataFrame, states: dict[str, pd.DataFrame],
                  identity: dict[str, PatientCopyNumber], alpha: float,
                  cluster_ratio: float = 0.6, min_depth: int = 50) -> dict[str, ScaleChoice]:
    """Per patient of ``identity`` (the copy number of each trusted patient's path as fitted),
    the relabelling of the path its allele fractions support (``copy_number_scale``), on the
    same reference draw as the BAF evidence."""
    from .copy_number_scale import choose_scale
    from .snv_copy_number import with_site_ids

    t = with_site_ids(tracked)
    plasma = cn[cn["sample_type"].astype(str) == "plasma"]
    out = {}
    for patient, copy_number in sorted(identity.items()):
        rows = plasma[plasma["patient_id"].astype(str) == patient]
        rows = rows[rows["sample_id"].isin(states)]
        if rows.empty:
            continue
        reference = str(rows.loc[rows["llr"].astype(float).idxmax(), "sample_id"])
        out[patient] = choose_scale(t[t["patient_id"].astype(str) == patient],
                                    states[reference], reference, copy_number, alpha,
                                    cluster_ratio, min_depth)
    return out


def drop_rescaled_cn(cn: pd.DataFrame, choices: dict[str, ScaleChoice]) -> pd.DataFrame:
    """``cn`` with the copy-number estimate kept out of the combination (``tf_cn_informative``
    false, a warning) for the patients whose path the allele fractions shifted: the depth TF
    was read on the scale they reject."""
    out = cn.copy()
    patient = out["patient_id"].astype(str)
    label = patient.map({p: c.label for p, c in choices.items()})
    shifted = [p for p, c in choices.items() if not c.keeps_depth_tf]
    hit = patient.isin(shifted) & (out["sample_type"].astype(str) == "plasma")
    if hit.any():
        out.loc[hit, "tf_cn_informative"] = False
        note = ("copy-number scale " + label[hit] + " chosen by the allele "
                "fractions: the copy-number TF, read on the path's own scale, is left out")
        old = (out["warning"] if "warning" in out else pd.Series("", index=out.index)
               ).fillna("").astype(str)
        out["warning"] = old.where(~hit, [f"{w}; {n}" if w and w != "nan" else n
                                          for w, n in zip(old, note.reindex(out.index))])
    return out


def snv_with_copy_number(snv: pd.DataFrame, tracked: pd.DataFrame,
                         segments: dict[str, PatientCopyNumber], cluster_ratio: float = 0.6,
                         min_depth: int = 50) -> pd.DataFrame:
    """The SNV table with its estimate replaced by the fit with copy number
    (``cnv/snv_copy_number.py``) where that gives one; the variants stage's 2 x VAF estimate is
    kept in ``tumour_fraction_snv_2xvaf``, and ``snv_model``, ``snv_clonal_states``,
    ``n_snv_unresolved`` say what the new one used."""
    from .snv_copy_number import snv_copy_number_tumour_fraction

    fitted = snv_copy_number_tumour_fraction(tracked, segments, cluster_ratio, min_depth)
    fitted = fitted.drop_duplicates("sample_id").set_index("sample_id")
    out = snv.copy()
    out["tumour_fraction_snv_2xvaf"] = out["tumour_fraction_snv"]
    have = out["sample_id"].isin(fitted.index[fitted["tumour_fraction_snv"].notna()])
    cols = ["tumour_fraction_snv", "tf_snv_lower", "tf_snv_upper", "tf_snv_p_value",
            "n_variants"]
    for c in cols:
        out.loc[have, c] = out.loc[have, "sample_id"].map(fitted[c]).to_numpy()
    for c in ("snv_model", "snv_clonal_states", "n_snv_unresolved"):
        out[c] = out["sample_id"].map(fitted[c]).where(have, "2xVAF" if c == "snv_model" else
                                                       ("" if c != "n_snv_unresolved" else 0))
    return out


def combine_tumour_fractions(cn_path: str, out_tf: str, out_baf: str, snv_path: str | None = None,
                             tracked_path: str | None = None,
                             state_paths: dict[str, str] | None = None, alpha: float = 0.01,
                             methods: tuple[str, ...] = ("cn", "snv"),
                             snv_copy_number: bool = True, cluster_ratio: float = 0.6,
                             min_depth: int = 50) -> pd.DataFrame:
    """Rule ``cnv_combine``: the published ``tumour_fraction.tsv`` (one combined estimate per
    sample, the per-method columns beside it) and the BAF table, from the copy-number table, the
    SNV table and the tracked variants (``cnv/combine.py`` for the method). With
    ``snv_copy_number`` the SNV evidence is refitted with each SNV's copy number
    (:func:`snv_with_copy_number`; ``cluster_ratio`` and ``min_depth`` are the variants stage's
    ``snv_tf`` settings)."""
    from .combine import combine_draws

    cn = read_tsv(cn_path)
    snv = read_tsv(snv_path) if snv_path and "snv" in methods else None
    baf, choices = None, {}
    if tracked_path and state_paths:  # reported always; combined only when in ``methods``
        states = {s: read_tsv(p, dtype={"chromosome": str}) for s, p in state_paths.items()}
        tracked = read_tsv(tracked_path, dtype={"sample_id": str, "patient_id": str,
                                                "chrom": str}, low_memory=False)
        baf, segments = baf_draws(cn, tracked, states, source=str(tracked_path))
        if snv is not None and snv_copy_number:
            trusted = {p: seg for p, seg in segments.items() if p in cn_trusted(cn, alpha)}
            choices = choose_scales(cn, tracked, states, trusted, alpha, cluster_ratio,
                                    min_depth)
            rescaled = {p: choices[p].copy_number if p in choices else seg
                        for p, seg in trusted.items()}
            snv = snv_with_copy_number(snv, tracked, rescaled, cluster_ratio, min_depth)
            cn = drop_rescaled_cn(cn, choices)
    table = combine_draws(cn, snv, baf, alpha, tuple(methods))
    if snv is not None and "snv_model" in snv:
        extra = ["tumour_fraction_snv_2xvaf", "snv_model", "snv_clonal_states", "n_snv_unresolved"]
        table = table.merge(snv[["sample_id", *extra]].drop_duplicates("sample_id"),
                            on="sample_id", how="left")
    # appended (issue 18): the relabelling of each patient's path the SNVs were read on
    table["cn_scale"] = table["patient_id"].astype(str).map(
        {p: c.label for p, c in choices.items()}).fillna("")
    write_tsv(baf if baf is not None else pd.DataFrame(columns=["sample_id"]), out_baf)
    write_tsv(table, out_tf)
    n_det = int(table["tf_detected"].sum())
    log.info("combined tumour fraction: %d of %d samples detected (alpha %g, methods %s)",
             n_det, len(table), alpha, "+".join(methods))
    return table
