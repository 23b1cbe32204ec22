"""Truth tables of a simulated cohort, computed from the design alone (no reads needed), plus
the per-sample library figures that the read simulation realises.

Conventions: variant ``pos`` is 1-based (VCF); segments are 0-based half-open (BED)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .design import PatientDesign, SampleDesign, expected_vaf, her2_burden
from .genome import Genome

SAMPLE_COLUMNS = ["sample_id", "patient_id", "sample_type", "timepoint_days", "tumour_fraction",
                  "ploidy", "erbb2_tumour_copy_number", "erbb2_plasma_copy_number",
                  "erbb2_excess_copies", "read_pairs", "duplicate_rate",
                  "tumour_fragment_fraction", "fragment_mode", "median_on_target_depth",
                  # added columns
                  "position_duplicate_rate", "fragment_median", "on_target_fraction",
                  "gc_bias_centre", "gc_bias_width", "erbb2_mutation_vaf", "her2_burden"]
VARIANT_COLUMNS = ["patient_id", "sample_id", "sample_type", "timepoint_days", "chrom", "pos",
                   "ref", "alt", "gene", "protein_change", "category", "clone_id",
                   "tumour_copy_number", "multiplicity", "expected_vaf",
                   # added columns
                   "variant_type", "major_cn", "minor_cn", "ccf", "tumour_fraction",
                   "normal_alt_copies"]
CLONE_COLUMNS = ["patient_id", "clone_id", "parent_clone_id", "sample_id", "timepoint_days",
                 "prevalence", "role", "label"]
SEGMENT_COLUMNS = ["patient_id", "chrom", "start", "end", "tumour_copy_number", "major_cn",
                   "minor_cn"]
PATIENT_COLUMNS = ["patient_id", "her2_status", "baseline_sample_id", "baseline_tumour_fraction",
                   "erbb2_tumour_copy_number", "baseline_erbb2_plasma_copy_number",
                   "baseline_erbb2_excess_copies", "baseline_erbb2_mutation_vaf",
                   "baseline_her2_burden", "ttf_months", "ttf_event",
                   # added columns
                   "os_months", "os_event", "best_response", "ploidy", "n_plasma_samples"]
CLINICAL_COLUMNS = ["patient_id", "ttf_months", "ttf_event", "os_months", "os_event",
                    "best_response", "her2_status", "cancer_type", "age"]


def ccf_at(patient: PatientDesign, sample: SampleDesign) -> dict[str, float]:
    """Clone -> prevalence (cancer cell fraction) in a sample (0 in the normal)."""
    return {c.clone_id: c.prevalence.get(sample.sample_id, 0.0) for c in patient.clones}


def variant_probabilities(patient: PatientDesign, sample: SampleDesign
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per variant: CCF, the probability that a tumour-derived fragment carries the alt allele
    (CCF*m/CN) and that a normal-derived one does (normal_alt_copies/2)."""
    v = patient.variants
    ccf_map = ccf_at(patient, sample)
    category = v["category"].to_numpy()
    ccf = np.asarray([ccf_map.get(c, 0.0) for c in v["clone_id"]], dtype=float)
    ccf = np.where(category == "somatic", ccf, np.where(category == "germline", 1.0, 0.0))
    cn = v["tumour_copy_number"].to_numpy(dtype=float)
    p_t = np.where(cn > 0, ccf * v["multiplicity"].to_numpy(dtype=float) / np.maximum(cn, 1), 0)
    p_n = v["normal_alt_copies"].to_numpy(dtype=float) / 2
    return ccf, np.clip(p_t, 0, 1), np.clip(p_n, 0, 1)


def sample_vafs(patient: PatientDesign, sample: SampleDesign) -> np.ndarray:
    ccf, _, _ = variant_probabilities(patient, sample)
    v = patient.variants
    return expected_vaf(sample.tumour_fraction, ccf, v["multiplicity"], v["tumour_copy_number"],
                        v["normal_alt_copies"])


def erbb2_mutation_vaf(patient: PatientDesign, sample: SampleDesign) -> float:
    """Largest expected VAF among the patient's somatic ERBB2 variants (0 without any)."""
    v = patient.variants
    sel = ((v["gene"].to_numpy() == "ERBB2") & (v["category"].to_numpy() == "somatic"))
    return float(sample_vafs(patient, sample)[sel].max()) if sel.any() else 0.0


def erbb2_plasma_cn(patient: PatientDesign, tf: float) -> float:
    return 2 * (1 - tf) + patient.erbb2_cn * tf


def samples_table(patients: list[PatientDesign], library: dict[str, dict] | None,
                  expected: dict[str, dict]) -> pd.DataFrame:
    """truth/samples.tsv. ``library``: realised figures per sample from the read simulation
    (None without reads); ``expected``: the design-level figures used when there are no reads."""
    rows = []
    for p in patients:
        for s in p.samples:
            tf = s.tumour_fraction
            pcn = erbb2_plasma_cn(p, tf)
            mut = erbb2_mutation_vaf(p, s)
            figures = (library or {}).get(s.sample_id) or expected[s.sample_id]
            rows.append(dict(
                sample_id=s.sample_id, patient_id=p.patient_id, sample_type=s.sample_type,
                timepoint_days=s.timepoint_days, tumour_fraction=tf, ploidy=round(p.ploidy, 4),
                erbb2_tumour_copy_number=p.erbb2_cn, erbb2_plasma_copy_number=pcn,
                erbb2_excess_copies=pcn - 2, read_pairs=figures["read_pairs"],
                duplicate_rate=figures["duplicate_rate"],
                tumour_fragment_fraction=figures["tumour_fragment_fraction"],
                fragment_mode=figures["fragment_mode"],
                median_on_target_depth=figures["median_on_target_depth"],
                position_duplicate_rate=figures["position_duplicate_rate"],
                fragment_median=figures["fragment_median"],
                on_target_fraction=figures["on_target_fraction"],
                gc_bias_centre=s.gc_centre, gc_bias_width=s.gc_width,
                erbb2_mutation_vaf=mut, her2_burden=her2_burden(pcn, mut)))
    table = pd.DataFrame(rows, columns=SAMPLE_COLUMNS)
    table["timepoint_days"] = table["timepoint_days"].astype("Int64")
    return table


def variants_table(patients: list[PatientDesign]) -> pd.DataFrame:
    """truth/variants.tsv: every truth variant x every sample of its patient (normal included)."""
    per_variant = ["chrom", "pos", "ref", "alt", "gene", "protein_change", "category",
                   "clone_id", "tumour_copy_number", "multiplicity", "kind", "major_cn",
                   "minor_cn", "normal_alt_copies"]
    cols: dict[str, list] = {c: [] for c in VARIANT_COLUMNS}
    for p in patients:
        v = p.variants
        n = len(v)
        arrays = {c: v[c].to_numpy() for c in per_variant}
        for s in p.samples:
            ccf, _, _ = variant_probabilities(p, s)
            cols["patient_id"].append(np.full(n, p.patient_id, dtype=object))
            cols["sample_id"].append(np.full(n, s.sample_id, dtype=object))
            cols["sample_type"].append(np.full(n, s.sample_type, dtype=object))
            cols["timepoint_days"].append(np.full(n, s.timepoint_days, dtype=object))
            for c in per_variant:
                cols["variant_type" if c == "kind" else c].append(arrays[c])
            cols["expected_vaf"].append(expected_vaf(
                s.tumour_fraction, ccf, arrays["multiplicity"], arrays["tumour_copy_number"],
                arrays["normal_alt_copies"]))
            cols["ccf"].append(ccf)
            cols["tumour_fraction"].append(np.full(n, s.tumour_fraction))
    table = pd.DataFrame({c: np.concatenate(parts) if parts else [] for c, parts in cols.items()},
                         columns=VARIANT_COLUMNS)
    table["timepoint_days"] = table["timepoint_days"].astype("Int64")
    return table


def clones_table(patients: list[PatientDesign]) -> pd.DataFrame:
    rows = []
    for p in patients:
        for c in p.clones:
            for s in p.plasma:
                rows.append(dict(patient_id=p.patient_id, clone_id=c.clone_id,
                                 parent_clone_id=c.parent, sample_id=s.sample_id,
                                 timepoint_days=s.timepoint_days,
                                 prevalence=c.prevalence[s.sample_id], role=c.role, label=c.label))
    return pd.DataFrame(rows, columns=CLONE_COLUMNS)


def segments_table(patients: list[PatientDesign]) -> pd.DataFrame:
    frames = [p.segments.assign(patient_id=p.patient_id) for p in patients]
    return pd.concat(frames, ignore_index=True)[SEGMENT_COLUMNS]


def patients_table(patients: list[PatientDesign]) -> pd.DataFrame:
    rows = []
    for p in patients:
        if not p.clinical:  # a healthy donor of the dilution series
            continue
        b = p.baseline
        pcn = erbb2_plasma_cn(p, b.tumour_fraction)
        mut = erbb2_mutation_vaf(p, b)
        c = p.clinical
        rows.append(dict(
            patient_id=p.patient_id, her2_status=p.her2_status, baseline_sample_id=b.sample_id,
            baseline_tumour_fraction=b.tumour_fraction, erbb2_tumour_copy_number=p.erbb2_cn,
            baseline_erbb2_plasma_copy_number=pcn, baseline_erbb2_excess_copies=pcn - 2,
            baseline_erbb2_mutation_vaf=mut, baseline_her2_burden=her2_burden(pcn, mut),
            ttf_months=c["ttf_months"], ttf_event=c["ttf_event"], os_months=c["os_months"],
            os_event=c["os_event"], best_response=c["best_response"], ploidy=round(p.ploidy, 4),
            n_plasma_samples=len(p.plasma)))
    return pd.DataFrame(rows, columns=PATIENT_COLUMNS)


def clinical_table(patients: list[PatientDesign]) -> pd.DataFrame:
    return pd.DataFrame([p.clinical for p in patients if p.clinical], columns=CLINICAL_COLUMNS)


def noisy_table(genome: Genome) -> pd.DataFrame:
    return genome.noisy[["chrom", "pos", "ref", "alt", "error_rate"]].copy()
