"""The cohort's copy-number tables from the per-sample HMM fits and gene statistics: detection
calibrated on the tumour-free samples, the tumour-fraction table and the gene calls. Computed on
tables; the rule ``cnv_summary`` (:func:`.pipeline.summarise`) reads and writes around it."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import write_tsv
from .combine import cn_null_mean, cn_p_value
from .genes import GENE_COLUMNS, GeneSettings, call_genes, gene_tau
from .tumour_fraction import DetectionSettings, calibrate

TF_COLUMNS = ["sample_id", "patient_id", "timepoint_days", "tumour_fraction", "tf_lower",
              "tf_upper", "ploidy", "tf_detected", "method"]
TF_EXTRA = ["sample_type", "tumour_fraction_fit", "ploidy_fit", "llr", "min_llr",
            "altered_fraction", "n_bins", "fit_mode", "segment_method", "reference", "warning",
            "fragment_length_ratio", "fragment_length_shift", "fragment_length_shift_se",
            "fragment_length_note", "path_llr", "tumour_fraction_cn", "tf_cn_lower",
            "tf_cn_upper", "tf_cn_p_value", "tf_cn_detected", "tf_cn_informative"]
GENE_EXTRA = ["sample_type", "amplified_pcn", "excess_copies", "se", "n_bins", "bin_class",
              "chromosome", "start", "end"]
PATH_GIVEN_MODES = ("joint", "conditional")


@dataclass(frozen=True)
class SummarySettings:
    """Detection and gene calls of the cohort summary (config ``cnv.detection``, ``cnv.genes``,
    ``her2_gene``). Fits whose state path was free and fits on a path other draws defined get
    their own floor (``floor``; ``floor_joint``, default ``floor``); ``margin``: see
    :func:`.tumour_fraction.calibrate`; ``alpha``: the level the floor maps to in
    ``tf_cn_p_value``."""

    floor: DetectionSettings = DetectionSettings()
    floor_joint: DetectionSettings | None = None
    margin: float = 1.5
    alpha: float = 0.01
    genes: GeneSettings = GeneSettings()
    her2_gene: str = "ERBB2"

    @classmethod
    def from_config(cls, section: dict, her2_gene: str = "ERBB2") -> "SummarySettings":
        """Settings from the config's ``cnv`` mapping (its ``detection`` and ``genes``) and the
        top-level ``her2_gene``."""
        detection = section["detection"]
        return cls(floor=DetectionSettings.from_config(detection),
                   floor_joint=DetectionSettings.from_config(detection, joint=True),
                   margin=detection["margin"], alpha=float(detection["alpha"]),
                   genes=GeneSettings.from_config(dict(section.get("genes") or {})),
                   her2_gene=her2_gene)


def command_line_floor(min_llr: float | None) -> DetectionSettings:
    """The shipped detection floor, with ``--min-llr`` when the command line gives one."""
    floor = DetectionSettings()
    if min_llr is not None:
        floor = replace(floor, min_llr=min_llr, source="--min-llr")
    return floor


@dataclass(frozen=True)
class SummaryOutputs:
    """The cohort tables: tumour fraction, genes, the HER2 gene's rows and (optional) the
    detection thresholds used."""

    tumour_fraction: str | os.PathLike
    genes: str | os.PathLike
    erbb2: str | os.PathLike
    detection: str | os.PathLike | None = None

    @classmethod
    def in_folder(cls, folder: str | os.PathLike) -> "SummaryOutputs":
        """The tables under their pipeline names in ``folder``."""
        out = Path(folder)
        return cls(out / "tumour_fraction.tsv", out / "genes.tsv", out / "erbb2.tsv",
                   out / "detection.tsv")


@dataclass
class Calibration:
    """Per fit group ("path-free", "path-given"): the detection thresholds and the mean of the
    exponential null of the LLR; ``table``: one row per group for ``detection.tsv``."""

    thresholds: dict[str, DetectionSettings]
    null_mean: dict[str, float]
    table: pd.DataFrame


@dataclass
class CohortSummary:
    """The cohort tables (:data:`TF_COLUMNS` + :data:`TF_EXTRA`; genes; detection)."""

    tumour_fraction: pd.DataFrame
    genes: pd.DataFrame
    erbb2: pd.DataFrame
    detection: pd.DataFrame

    def write(self, out: SummaryOutputs) -> None:
        """Each table to its path, atomically (detection only when it has a path)."""
        write_tsv(self.tumour_fraction, out.tumour_fraction)
        if out.detection:
            write_tsv(self.detection, out.detection)
        write_tsv(self.genes, out.genes)
        write_tsv(self.erbb2, out.erbb2)


def summarise_fits(samples: pd.DataFrame, fits: pd.DataFrame, stats: dict[str, pd.DataFrame],
                   tumour_free: list[str], settings: SummarySettings) -> CohortSummary:
    """Calibrate detection on the tumour-free samples' (leave-one-out) fits, then the cohort's
    TF and gene tables.

    ``samples``: sample_id, patient_id, sample_type, timepoint_days (one row per sample with a
    fit); ``fits``: their HMM fit rows; ``stats``: sample -> gene statistics. ``tumour_free``:
    sample IDs known to carry no tumour DNA (normals, healthy plasma). Fits whose state path was
    free (``single``) and fits on a path other draws defined (``joint``, ``conditional``) have
    different null distributions of the LLR (a free path can chase noise), so each group gets
    its own floor and is calibrated on the tumour-free samples fitted the same way. The same
    tumour-free LLRs give each group's exponential null for ``tf_cn_p_value``
    (``combine.cn_null_mean``; the floor maps to ``alpha``), which the combined estimate (rule
    ``cnv_combine``) uses."""
    fits = fits.copy()
    if "fit_mode" not in fits:
        fits["fit_mode"] = "single"
    fits["fit_mode"] = fits["fit_mode"].fillna("single")
    calibration = calibrate_groups(fits, tumour_free, settings)
    tf_table, fragment_scale = tumour_fraction_table(samples, fits, calibration)
    genes = gene_table(tf_table, stats, tumour_free, fragment_scale, settings.genes)
    return CohortSummary(tf_table, genes, genes[genes["gene"] == settings.her2_gene],
                         calibration.table)


def calibrate_groups(fits: pd.DataFrame, tumour_free: list[str], settings: SummarySettings
                     ) -> Calibration:
    """Each fit group's thresholds, raised by its tumour-free samples' LLRs, and LLR null."""
    groups = {"path-free": settings.floor, "path-given": settings.floor_joint or settings.floor}
    thresholds, null_mean, rows = {}, {}, []
    for group, floor in groups.items():
        in_group = fits["fit_mode"].isin(PATH_GIVEN_MODES) == (group == "path-given")
        calib = fits[in_group & fits["sample_id"].isin(tumour_free)]
        llr = calib["llr"].to_numpy(float)
        thresholds[group] = calibrate(llr, floor, settings.margin) if len(calib) else floor
        null_mean[group] = cn_null_mean(llr, floor.min_llr, settings.alpha)
        rows.append({"fit_group": group, **thresholds[group].as_dict(),
                     "margin": settings.margin, "n_samples": int(in_group.sum()),
                     "tumour_free_samples": ",".join(sorted(calib["sample_id"]))})
    return Calibration(thresholds, null_mean, pd.DataFrame(rows))


def tumour_fraction_table(samples: pd.DataFrame, fits: pd.DataFrame, calibration: Calibration
                          ) -> tuple[pd.DataFrame, dict[str, dict]]:
    """One row per fit (detection by its group's thresholds) and, per sample, the TF on the
    fragment scale that the gene calls need."""
    meta = samples.set_index("sample_id")
    # A shared state path is only as good as the evidence of the draws that define it. Where a
    # patient's jointly fitted draws together stay below the path-free threshold, the path may
    # be noise that they chased (demo P02: one draw's chromosome-wide wave of -0.13 became a
    # "loss" at TF 0.15, truth 0.03), so its samples are judged as if fitted alone.
    patient_of = fits["sample_id"].map(meta["patient_id"])
    defining = fits["fit_mode"].isin(["joint", "single"])  # the draws a path comes from
    path_llr = fits.loc[defining, "llr"].astype(float).groupby(patient_of[defining]).sum()
    rows, fragment_scale = [], {}
    for i, fit in fits.iterrows():
        evidence = float(path_llr.get(patient_of[i], np.nan))
        path_given = fit["fit_mode"] in PATH_GIVEN_MODES and not (
            evidence < calibration.thresholds["path-free"].min_llr)
        group = "path-given" if path_given else "path-free"
        row = _tf_row(fit, meta.loc[fit["sample_id"]], calibration.thresholds[group],
                      calibration.null_mean[group], evidence)
        rows.append(row)
        fragment_scale[fit["sample_id"]] = _fragment_scale(fit, row["tf_detected"])
    return pd.DataFrame(rows, columns=TF_COLUMNS + TF_EXTRA), fragment_scale


def _tf_row(fit: pd.Series, info: pd.Series, th: DetectionSettings, null_mean: float,
            evidence: float) -> dict:
    """The tumour-fraction table's row of one fit."""
    detected = th.detected(float(fit["llr"]), float(fit["altered_fraction"]))
    # TF in genome copies (fit tables written before the length correction lack it)
    t_genome = float(fit.get("tumour_fraction_genome", fit["tumour_fraction_fit"]))
    lower_genome = float(fit.get("tf_lower_genome", fit["tf_lower"]))
    upper_genome = float(fit.get("tf_upper_genome", fit["tf_upper"]))
    note = fit.get("fragment_length_note", "")
    p_cn = cn_p_value(float(fit["llr"]), null_mean, float(fit["altered_fraction"]),
                      th.min_altered_fraction)
    return {
        "sample_id": fit["sample_id"], "patient_id": info["patient_id"],
        "timepoint_days": info.get("timepoint_days"),
        "tumour_fraction": t_genome if detected else 0.0,
        "tf_lower": lower_genome if detected else 0.0,
        "tf_upper": upper_genome,
        "ploidy": float(fit["ploidy"]) if detected else 2.0,
        "tf_detected": detected, "method": fit.get("method", "hmm"),
        "sample_type": info.get("sample_type", ""),
        "tumour_fraction_fit": float(fit["tumour_fraction_fit"]),
        "ploidy_fit": float(fit["ploidy_fit"]), "llr": float(fit["llr"]),
        "min_llr": th.min_llr, "altered_fraction": float(fit["altered_fraction"]),
        "n_bins": int(fit["n_bins"]), "fit_mode": fit["fit_mode"],
        "segment_method": fit.get("segment_method", ""),
        "reference": fit.get("reference", ""),
        "warning": "" if pd.isna(fit.get("warning")) else fit.get("warning", ""),
        "fragment_length_ratio": fit.get("fragment_length_ratio", 1.0),
        "fragment_length_shift": fit.get("fragment_length_shift", np.nan),
        "fragment_length_shift_se": fit.get("fragment_length_shift_se", np.nan),
        "fragment_length_note": "" if pd.isna(note) else note,
        "path_llr": evidence if fit["fit_mode"] in PATH_GIVEN_MODES else np.nan,
        # The copy-number evidence whatever its own call, for the combined estimate.
        "tumour_fraction_cn": t_genome, "tf_cn_lower": lower_genome,
        "tf_cn_upper": upper_genome, "tf_cn_p_value": p_cn, "tf_cn_detected": detected,
        # A fit whose altered states cover a sliver of the genome (a focal amplicon) can put
        # any TF on it: its estimate does not enter the combined one.
        "tf_cn_informative": float(fit["altered_fraction"]) >= th.min_altered_fraction,
    }


def _fragment_scale(fit: pd.Series, detected: bool) -> dict:
    """Gene copy numbers come from read-depth ratios, i.e. on the fragment scale: the fit's own
    TF and interval (zero when not detected)."""
    return {"tumour_fraction": float(fit["tumour_fraction_fit"]) if detected else 0.0,
            "tf_lower": float(fit["tf_lower"]) if detected else 0.0,
            "tf_upper": float(fit["tf_upper"])}


def gene_table(tf_table: pd.DataFrame, stats: dict[str, pd.DataFrame], tumour_free: list[str],
               fragment_scale: dict[str, dict], settings: GeneSettings) -> pd.DataFrame:
    """Gene calls of every sample, their between-sample noise (``gene_tau``) measured on the
    tumour-free samples."""
    normal_stats = [stats[s] for s in tumour_free if s in stats]
    tau = gene_tau(pd.concat(normal_stats)) if normal_stats else pd.Series(dtype=float)
    gene_rows = []
    for _, tf_row in tf_table.iterrows():
        calls = call_genes(stats[tf_row["sample_id"]], tau,
                           {**tf_row.to_dict(), **fragment_scale[tf_row["sample_id"]]},
                           settings)
        calls["patient_id"] = tf_row["patient_id"]
        calls["timepoint_days"] = tf_row["timepoint_days"]
        calls["sample_type"] = tf_row["sample_type"]
        gene_rows.append(calls)
    genes = (pd.concat(gene_rows, ignore_index=True) if gene_rows
             else pd.DataFrame(columns=GENE_COLUMNS + GENE_EXTRA))
    return genes[GENE_COLUMNS + GENE_EXTRA]
