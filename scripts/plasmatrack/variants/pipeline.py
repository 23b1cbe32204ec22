"""The variant stage as functions of paths and plain values, called by the Snakemake rule scripts
(scripts/rules/variants_*.py) and by the CLI. Steps and files:

1. ``discover_patient``: candidates of one patient (discovered in pooled plasma, known variants,
   hotspots) -> results/variants/{patient}/candidates.tsv
2. ``build_sites``: the cohort's site list, annotated (with a GFF3: consequence, transcript,
   HGVS), with the patients carrying each site -> results/variants/sites.tsv
3. ``count_patient``: ``count_sample`` (fragment counts of one sample at its sites, all sites
   for control samples) for every sample of a patient
   -> results/variants/{patient}/counts/{sample}.counts.tsv
4. ``fit_background``: background per site, blacklist, calibrated threshold
   -> results/variants/background.tsv, detection_threshold.tsv, control_observations.tsv
5. ``call_patient``: status, category, annotation, SNV tumour fraction, VCF of one patient
   -> results/variants/{patient}/tracked.tsv, {patient}/snv_tf.tsv, {patient}.vcf.gz
6. ``merge_tables``: results/variants/tracked_variants.tsv and snv_tumour_fraction.tsv
7. ``write_cohort_maf``: results/variants/cohort.maf
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Collection

import pandas as pd

from ..errors import InputError
from ..ids import id_problem
from ..io import atomic_open, read_tsv, write_tsv
from ..qc.identity_exclusion import read_left_out
from .annotate import annotate_sites, read_hotspots
from .background import (BackgroundSettings, build_background, parse_patients, patient_background,
                         site_key)
from .classify import CallSettings, call_observations, classify_variants
from .collisions import CollisionSettings, correct_counts
from .consequence import CONSEQUENCE_COLUMNS, annotate_consequences, short_protein
from .discover import CANDIDATE_COLUMNS, DiscoverySettings, discover, read_regions
from .maf import MAF_VERSION, MafSettings, cohort_maf
from .pileup import COUNT_COLUMNS, ReadFilterSettings, count_sites
from .sites import Reference, read_sites, sort_sites
from .snv_tf import TF_COLUMNS, snv_tumour_fraction
from .vcf import write_patient_vcf

TRACKED_COLUMNS = [
    "patient_id", "sample_id", "sample_type", "timepoint_days", "chrom", "pos", "ref", "alt",
    "gene", "ref_count", "alt_count", "depth", "vaf", "vaf_lower", "vaf_upper", "background_rate",
    "p_value", "status", "category", "filters",
    # Added columns (the first 20 are the published contract).
    "variant_type", "exon", "protein_change", "source", "other_count", "discordant", "ref_fwd",
    "ref_rev", "alt_fwd", "alt_rev", "ref_fragment_median", "alt_fragment_median", "power",
    "vaf_in_question", "detection_threshold", "normal_vaf",
    # From the transcript model (config 'annotation'; empty without it): consequence.py.
    *CONSEQUENCE_COLUMNS,
]
SITE_COLUMNS = ["chrom", "pos", "ref", "alt", "variant_type", "gene", "exon", "protein_change",
                "source", "patients", "tracked_by", *CONSEQUENCE_COLUMNS]
# Annotation columns a site carries into every tracked row.
SITE_ANNOTATIONS = ("variant_type", "gene", "exon", "protein_change", "source",
                    *CONSEQUENCE_COLUMNS)
CARRIER_SOURCES = ("discovered", "known")
_TEXT_ANNOTATIONS = {c: str for c in CONSEQUENCE_COLUMNS}

log = logging.getLogger(__name__)


def load_known(spec: str | None, patient_id: str, reference: Reference) -> pd.DataFrame:
    """Known variants of a patient: ``spec`` is a TSV with a patient_id column, or a path with
    '{patient}' naming one VCF/TSV per patient (a missing file means none)."""
    empty = pd.DataFrame(columns=["chrom", "pos", "ref", "alt", "variant_type"])
    if not spec:
        return empty
    if "{patient}" in spec:
        path = Path(spec.replace("{patient}", patient_id))
        if not path.is_file():
            return empty
        sites, _ = read_sites(path, reference)
        return sites
    sites, _ = read_sites(spec, reference)
    if "patient_id" not in sites.columns:
        raise InputError(f"{spec}: a cohort known-variants table needs a patient_id column "
                         "(or use a path containing {patient} for one file per patient)")
    return sites[sites["patient_id"].astype(str) == patient_id].reset_index(drop=True)


def discover_patient(patient_id: str, plasma_bams: dict[str, str], reference_fasta: str,
                     regions_bed: str, hotspots: str | None, known_variants: str | None,
                     variants_config: dict, out_path: str, identity: str | None = None
                     ) -> list[str]:
    """Candidates of one patient -> ``out_path`` (CANDIDATE_COLUMNS + source). ``identity``:
    identity_samples.tsv when identity runs; a draw that failed it is not pooled (another
    person's heterozygous SNPs would become the patient's candidates), with a warning."""
    left_out = read_left_out(identity)
    warnings = [f"{s} {left_out[s]}: not used for discovery" for s in plasma_bams
                if s in left_out]
    plasma_bams = {s: b for s, b in plasma_bams.items() if s not in left_out}
    with Reference(reference_fasta) as reference:
        regions = read_regions(regions_bed, reference)
        found = discover(list(plasma_bams.values()), regions, reference,
                         ReadFilterSettings.from_config(variants_config),
                         DiscoverySettings.from_config(variants_config), list(plasma_bams))
        found["source"] = "discovered"
        known = load_known(known_variants, patient_id, reference)
        known = known.assign(source="known")[
            ["chrom", "pos", "ref", "alt", "variant_type", "source"]]
        hot = read_hotspots(hotspots, reference).assign(source="hotspot")[
            ["chrom", "pos", "ref", "alt", "variant_type", "source"]]
        contigs = list(reference.lengths)
    table = pd.concat([found, known, hot], ignore_index=True)
    if table.empty:
        write_tsv(pd.DataFrame(columns=CANDIDATE_COLUMNS + ["source"]), out_path)
        return warnings
    table["pos"] = table["pos"].astype(int)
    sources = table.groupby(["chrom", "pos", "ref", "alt"], sort=False)["source"].agg(
        lambda s: ",".join(dict.fromkeys(s)))
    first = table.drop_duplicates(["chrom", "pos", "ref", "alt"]).set_index(
        ["chrom", "pos", "ref", "alt"])
    first["source"] = sources
    out = sort_sites(first.reset_index(), contigs)
    write_tsv(out[CANDIDATE_COLUMNS + ["source"]], out_path)
    return warnings


def build_sites(candidate_files: dict[str, str], reference_fasta: str, genes_bed: str,
                exons_bed: str | None, hotspots: str | None, out_path: str,
                annotation: str | None = None) -> None:
    """Union of all patients' candidates, annotated. ``patients``: patients that carry the site
    (discovered or known there); ``tracked_by``: patients that track it (carriers + hotspots).
    With an ``annotation`` GFF3, consequence, transcript and HGVS columns too, and a variant off
    the hotspot list is named by its protein change (``E545K``)."""
    parts = []
    for patient, path in candidate_files.items():
        df = read_tsv(path, dtype={"chrom": str, "ref": str, "alt": str, "source": str})
        df["patient_id"] = patient
        parts.append(df)
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["chrom", "pos", "ref", "alt", "variant_type", "source", "patient_id"])
    with Reference(reference_fasta) as reference:
        contigs = list(reference.lengths)
        hot = read_hotspots(hotspots, reference)
    rows = []
    for key, group in table.groupby(["chrom", "pos", "ref", "alt"], sort=False):
        sources = set(",".join(group["source"].astype(str)).split(","))
        carriers = sorted({p for p, s in zip(group["patient_id"], group["source"].astype(str))
                           if set(s.split(",")) & set(CARRIER_SOURCES)})
        rows.append({"chrom": key[0], "pos": int(key[1]), "ref": key[2], "alt": key[3],
                     "variant_type": group["variant_type"].iloc[0],
                     "source": ",".join(s for s in ("discovered", "known", "hotspot")
                                        if s in sources),
                     "patients": ",".join(carriers),
                     "tracked_by": ",".join(sorted(set(group["patient_id"])))})
    sites = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", "variant_type", "source",
                                        "patients", "tracked_by"])
    sites = sort_sites(sites, contigs) if len(sites) else sites
    sites = annotate_sites(sites, genes_bed, exons_bed, hot)
    sites = name_protein_changes(annotate_consequences(sites, reference_fasta, annotation))
    write_tsv(sites[SITE_COLUMNS], out_path)


def name_protein_changes(sites: pd.DataFrame) -> pd.DataFrame:
    """``protein_change``: the hotspot list's name where it has one, else the short form of the
    transcript model's HGVS p. (the name reports and clone labels show)."""
    hotspot_name = sites["protein_change"].fillna("").astype(str)
    from_model = sites["hgvs_p"].fillna("").astype(str).map(short_protein)
    return sites.assign(protein_change=hotspot_name.where(hotspot_name != "", from_model))


def read_site_table(path: str) -> pd.DataFrame:
    return read_tsv(path, dtype={"chrom": str, "ref": str, "alt": str, "gene": str, "exon": str,
                                 "protein_change": str, "source": str, "patients": str,
                                 "tracked_by": str, **_TEXT_ANNOTATIONS},
                    keep_default_na=False, na_values=[""])


def count_sample(bam: str, sites_path: str, patient_id: str, all_sites: bool,
                 reference_fasta: str, variants_config: dict, out_path: str) -> None:
    """Fragment counts of one sample: every site when it is a control sample, else the sites
    its patient tracks."""
    sites = read_site_table(sites_path)
    if not all_sites:
        tracked = sites["tracked_by"].fillna("").map(parse_patients)
        sites = sites[[patient_id in t for t in tracked]].reset_index(drop=True)
    filters = ReadFilterSettings.from_config(variants_config)
    collisions = CollisionSettings.from_config(variants_config).collision_correction
    counts = count_sites(bam, sites, filters, reference_fasta, end_collisions=collisions)
    write_tsv(correct_counts(counts) if collisions else counts, out_path)


def count_patient(bams: dict[str, str], sites_path: str, patient_id: str,
                  controls: Collection[str], reference_fasta: str, variants_config: dict,
                  out_dir: str) -> None:
    """``count_sample`` for every sample of one patient (sample ID -> BAM ``bams``) into
    ``out_dir``/<sample>.counts.tsv; a sample in ``controls`` at every site (rule
    variants_count: one job per patient, not per sample, keeps the job count of a large cohort
    down; docs/cluster.md)."""
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for sample, bam in bams.items():
        if id_problem(sample):
            raise InputError(f"variants: sample ID {sample!r}: {id_problem(sample)}")
        count_sample(bam, sites_path, patient_id, sample in controls, reference_fasta,
                     variants_config, str(Path(out_dir) / f"{sample}.counts.tsv"))


def _load_counts(count_files: dict[str, str], sample_meta: dict[str, dict]) -> pd.DataFrame:
    parts = []
    for sample, path in count_files.items():
        df = read_tsv(path, dtype={"chrom": str, "ref": str, "alt": str})
        meta = sample_meta[sample]
        df["sample_id"] = sample
        df["patient_id"] = meta["patient_id"]
        df["sample_type"] = meta["sample_type"]
        df["timepoint_days"] = meta.get("timepoint_days")
        parts.append(df)
    if not parts:
        return pd.DataFrame(columns=COUNT_COLUMNS + ["sample_id", "patient_id", "sample_type",
                                                     "timepoint_days"])
    obs = pd.concat(parts, ignore_index=True)
    obs["site_id"] = site_key(obs)
    return obs


def fit_background(sites_path: str, count_files: dict[str, str], sample_meta: dict[str, dict],
                   controls: list[str], variants_config: dict, out_background: str,
                   out_threshold: str, out_controls: str, identity: str | None = None) -> None:
    """Rule ``variants_background``: per-site background, blacklist and threshold from the
    ``controls``. ``identity`` (identity_samples.tsv, when identity runs): a control that failed
    it is left out (a swapped draw holds another patient's tumour and SNPs, not this
    patient's background); each one is logged."""
    left_out = read_left_out(identity)
    for sample in controls:
        if sample in left_out:
            log.warning("%s: not a background control (%s)", sample, left_out[sample])
    controls = [c for c in controls if c not in left_out]
    sites = read_site_table(sites_path)
    obs = _load_counts(count_files, sample_meta)
    bg, threshold, ctrl = build_background(sites, obs, controls,
                                           BackgroundSettings.from_config(variants_config))
    write_tsv(bg, out_background)
    write_tsv(pd.DataFrame([threshold]), out_threshold, float_format="%.6g")
    write_tsv(ctrl, out_controls)


@dataclass(frozen=True)
class PatientCallInputs:
    """The files one patient's calls are made from, as written by the earlier steps.

    counts: sample -> counts.tsv of the patient's samples; this order is the order of the samples
    in the tracked table and the VCF. sample_meta: sample -> patient_id, sample_type,
    timepoint_days (the sample sheet)."""

    sites: str
    counts: dict[str, str]
    sample_meta: dict[str, dict]
    background: str
    threshold: str
    control_observations: str
    reference_fasta: str
    # identity_samples.tsv when identity runs: draws that failed it do not classify the
    # variants or choose the SNV TF's clonal set; their rows stay, with ``excluded`` true
    identity: str | None = None


@dataclass(frozen=True)
class PatientCallOutputs:
    """Where ``call_patient`` writes: tracked.tsv, snv_tf.tsv and the VCF of one patient."""

    tracked: str
    snv_tf: str
    vcf: str


def call_patient(patient_id: str, inputs: PatientCallInputs, variants_config: dict,
                 outputs: PatientCallOutputs) -> None:
    """Status, category and annotation of every tracked variant x sample of one patient, its SNV
    tumour fraction per sample and its VCF. With ``inputs.identity``, the column ``excluded``
    is appended to tracked.tsv (docs/qc.md, "What a failed identity leaves out")."""
    sites = read_site_table(inputs.sites)
    sites["site_id"] = site_key(sites)
    tracked_by = sites["tracked_by"].fillna("").map(parse_patients)
    mine = sites[[patient_id in t for t in tracked_by]].set_index("site_id")
    obs = _load_counts(inputs.counts, inputs.sample_meta)
    obs = obs[obs["site_id"].isin(mine.index)].reset_index(drop=True)
    bg = read_tsv(inputs.background, dtype={"chrom": str, "ref": str, "alt": str,
                                            "blacklist_reason": str})
    control_obs = read_tsv(inputs.control_observations,
                           dtype={"chrom": str, "ref": str, "alt": str, "sample_id": str,
                                  "patient_id": str})
    threshold = float(read_tsv(inputs.threshold)["threshold"].iloc[0])
    pbg = patient_background(bg, control_obs, patient_id,
                             BackgroundSettings.from_config(variants_config))
    left_out = read_left_out(inputs.identity)
    calls = patient_calls(obs, mine, pbg, threshold, CallSettings.from_config(variants_config),
                          list(inputs.counts), left_out)
    columns = TRACKED_COLUMNS + (["excluded"] if inputs.identity else [])
    write_tsv(calls.assign(excluded=calls["sample_id"].isin(left_out))[columns], outputs.tracked)
    tf = snv_tumour_fraction(calls, **_tf_params(variants_config), left_out=left_out)
    write_tsv(tf[TF_COLUMNS], outputs.snv_tf)
    with Reference(inputs.reference_fasta) as reference:
        contigs = dict(reference.lengths)
    write_patient_vcf(calls, list(inputs.counts), contigs, outputs.vcf)


def patient_calls(obs: pd.DataFrame, sites: pd.DataFrame, background: pd.DataFrame,
                  threshold: float, settings: CallSettings, sample_order: list[str],
                  left_out: Collection[str] = ()) -> pd.DataFrame:
    """Calls of one patient's observations (counts rows with site_id) at its ``sites`` (indexed
    by site_id), given its background (``patient_background``: bg_alpha, bg_beta,
    background_rate, blacklisted per site_id); rows sorted by site, then by ``sample_order``.
    Samples in ``left_out`` (failed identity) are called but do not classify the variants."""
    obs = obs.join(background[["bg_alpha", "bg_beta", "background_rate"]], on="site_id")
    for col in SITE_ANNOTATIONS:
        obs[col] = obs["site_id"].map(sites[col]).fillna("") if col in sites else ""
    calls = _call_and_classify(obs, background["blacklisted"].astype(bool), threshold, settings,
                               left_out)
    calls["_sample_rank"] = calls["sample_id"].map({s: i for i, s in enumerate(sample_order)})
    calls["_site_rank"] = calls["site_id"].map({s: i for i, s in enumerate(sites.index)})
    return calls.sort_values(["_site_rank", "_sample_rank"], kind="mergesort")


def _call_and_classify(obs: pd.DataFrame, blacklisted: pd.Series, threshold: float,
                       settings: CallSettings, left_out: Collection[str] = ()) -> pd.DataFrame:
    """Per-sample calls joined with the per-variant class (from the samples not in
    ``left_out``), with ``filters`` (the variant's filters plus zero_depth for a sample without
    coverage, else PASS) and the threshold used."""
    calls = call_observations(obs, threshold, settings)
    used = calls[~calls["sample_id"].isin(list(left_out))]
    # every sample left out (e.g. a normal and its one draw that disagree): the rows, all
    # excluded, are classified from what the tubes hold rather than left without a category
    classes = classify_variants(used if len(used) else calls, blacklisted, threshold, settings)
    calls = calls.merge(classes, on="site_id", how="left")
    calls["filters"] = [";".join(x for x in (v, "" if d > 0 else "zero_depth") if x) or "PASS"
                        for v, d in zip(calls["variant_filters"].fillna(""), calls["depth"])]
    calls["detection_threshold"] = threshold
    return calls


def _tf_params(variants_config: dict) -> dict:
    tf = variants_config.get("snv_tf", {})
    return {"cluster_ratio": float(tf.get("cluster_ratio", 0.6)),
            "min_depth": int(tf.get("min_depth", 50))}


def merge_tables(tracked_files: list[str], tf_files: list[str], out_tracked: str,
                 out_tf: str) -> None:
    """Concatenate the per-patient tables into the published cohort tables."""
    str_cols = {"chrom": str, "ref": str, "alt": str, "gene": str, "exon": str,
                "protein_change": str, "source": str, "filters": str, "status": str,
                "category": str, "sample_id": str, "patient_id": str, **_TEXT_ANNOTATIONS}
    tracked = [read_tsv(p, dtype=str_cols, keep_default_na=False, na_values=[""])
               for p in tracked_files]
    tfs = [read_tsv(p) for p in tf_files]
    write_tsv(pd.concat(tracked, ignore_index=True) if tracked else
              pd.DataFrame(columns=TRACKED_COLUMNS), out_tracked)
    write_tsv(pd.concat(tfs, ignore_index=True) if tfs else pd.DataFrame(columns=TF_COLUMNS),
              out_tf)


def write_cohort_maf(tracked_path: str, out_path: str, settings: MafSettings) -> None:
    """The cohort MAF (``tables.COHORT_MAF``) from the cohort's tracked variants."""
    tracked = read_tsv(tracked_path, dtype={"chrom": str, "ref": str, "alt": str, "gene": str,
                                            "exon": str, "sample_id": str, "patient_id": str,
                                            "sample_type": str, "status": str, "category": str,
                                            **_TEXT_ANNOTATIONS},
                       keep_default_na=False, na_values=[""])
    maf = cohort_maf(tracked, settings)
    with atomic_open(out_path) as handle:
        handle.write(f"#version {MAF_VERSION}\n")
        maf.to_csv(handle, sep="\t", index=False, na_rep="", float_format="%.6g")


def _sample_name(bam: str) -> str:
    """Sample name of a BAM: its first read group's SM, else the file name without .bam."""
    import pysam

    try:
        with pysam.AlignmentFile(bam, "rb") as handle:
            groups = handle.header.to_dict().get("RG", [])
    except (OSError, ValueError) as exc:
        raise InputError(f"{bam}: cannot open as a BAM ({exc})") from None
    for group in groups:
        if group.get("SM"):
            return str(group["SM"])
    name = Path(bam).name
    return name[:-4] if name.endswith(".bam") else name


@dataclass(frozen=True)
class TrackInputs:
    """What ``plasmatrack track`` reads: the BAM and its sites (TSV or VCF), and optionally a
    reference FASTA, a pipeline's background table, control BAMs, a matched normal BAM and a
    GFF3 transcript model (consequences and HGVS)."""

    bam: str
    sites: str
    reference_fasta: str | None = None
    background: str | None = None
    control_bams: tuple[str, ...] = ()
    normal_bam: str | None = None
    annotation: str | None = None
    # identity_samples.tsv of a pipeline run (samples named by their read group's SM or file
    # name): a control that failed identity is not counted, a tracked BAM or normal that failed
    # it is called but classifies nothing (the rules' exclusion, docs/qc.md)
    identity: str | None = None


def track_bam(inputs: TrackInputs, out_dir: str, variants_config: dict | None = None,
              error_rate: float = 1e-4, patient_id: str = "") -> dict:
    """Standalone tracking of the sites in one BAM (``plasmatrack track``).

    The background of each site comes from, in order of preference: a background table written
    by the pipeline (``background.tsv``: bg_alpha/bg_beta per site), control BAMs counted here
    (same model as the pipeline, threshold calibrated on them), or a flat prior ``error_rate``.
    With a matched normal, variants are also classified (germline / chip / artifact / somatic).
    Writes ``out_dir``/tracked.tsv (TRACKED_COLUMNS, plus ``excluded`` with
    ``inputs.identity``), counts.tsv, and tracked.vcf.gz.
    Returns a summary dict (numbers of sites, detected, threshold)."""
    cfg = variants_config or {}
    params = BackgroundSettings.from_config(cfg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    inputs, left_out, notes = _without_failed_controls(inputs)
    counted = _count_tracked(inputs, ReadFilterSettings.from_config(cfg),
                             CollisionSettings.from_config(cfg).collision_correction)
    write_tsv(counted.counts[counted.sample], out / "counts.tsv")
    obs = _tracked_observations(counted, patient_id)
    sites = counted.sites
    sites["site_id"] = site_key(sites)
    sites["patients"] = ""
    bg, blacklisted, threshold = _tracking_background(inputs.background, sites, obs,
                                                      list(counted.controls), params)
    obs = obs[obs["sample_id"].isin(counted.kinds)].reset_index(drop=True)
    obs = _with_background(obs, bg, params.prior_strength, error_rate)
    annotations = _track_annotations(sites, inputs).set_index("site_id")
    for col in SITE_ANNOTATIONS:
        obs[col] = (obs["site_id"].map(annotations[col]).fillna("")
                    if col in annotations else "")
    failed = [name for name in counted.kinds if name in left_out]
    notes += [f"{name} {left_out[name]}: called, its rows marked excluded" for name in failed]
    calls = _call_and_classify(obs, blacklisted, threshold, CallSettings.from_config(cfg),
                               failed)
    calls["source"] = "sites"
    calls["timepoint_days"] = None
    columns = TRACKED_COLUMNS + (["excluded"] if inputs.identity else [])
    write_tsv(calls.assign(excluded=calls["sample_id"].isin(left_out))[columns],
              out / "tracked.tsv")
    write_patient_vcf(calls, list(counted.kinds), _bam_contigs(inputs.bam),
                      out / "tracked.vcf.gz")
    tumour = calls[calls["sample_id"] == counted.sample]
    return {"sample": counted.sample, "sites": int(len(sites)), "skipped": len(counted.warnings),
            "detected": int((tumour["status"] == "detected").sum()),
            "undetermined": int((tumour["status"] == "undetermined").sum()),
            "threshold": threshold, "warnings": counted.warnings + notes}


def _without_failed_controls(inputs: TrackInputs
                             ) -> tuple[TrackInputs, dict[str, str], list[str]]:
    """``inputs`` without the control BAMs that failed identity (``inputs.identity``), the
    samples identity leaves out ({name: reason}) and a note per control dropped."""
    left_out = read_left_out(inputs.identity)
    if not left_out:
        return inputs, left_out, []
    names = {path: _sample_name(path) for path in inputs.control_bams}
    notes = [f"control {names[p]} {left_out[names[p]]}: not used" for p in inputs.control_bams
             if names[p] in left_out]
    kept = tuple(p for p in inputs.control_bams if names[p] not in left_out)
    return replace(inputs, control_bams=kept), left_out, notes


def _track_annotations(sites: pd.DataFrame, inputs: TrackInputs) -> pd.DataFrame:
    """The sites with the transcript model's columns (empty without ``inputs.annotation``)."""
    if inputs.annotation and not inputs.reference_fasta:
        raise InputError(f"--annotation {inputs.annotation}: needs --reference (the FASTA the "
                         "GFF3 describes)")
    sites = annotate_consequences(sites, inputs.reference_fasta, inputs.annotation)
    if "protein_change" not in sites:
        sites["protein_change"] = ""
    return name_protein_changes(sites)


@dataclass
class _TrackedCounts:
    """Counts of ``plasmatrack track``: the tracked sample (and its normal) and the controls.

    kinds: sample name -> "plasma" or "normal" for the tracked BAMs, in order; counts and
    controls: name -> ``count_sites`` table; warnings: site lines skipped when reading."""

    sites: pd.DataFrame
    warnings: list[str]
    sample: str
    kinds: dict[str, str]
    counts: dict[str, pd.DataFrame]
    controls: dict[str, pd.DataFrame]


def _count_tracked(inputs: TrackInputs, filters: ReadFilterSettings,
                   collision_correction: bool = False) -> _TrackedCounts:
    """Read the sites and count them in the BAM, its matched normal and the control BAMs (with
    ``collision_correction``: SNV counts corrected for end collisions, ``collisions.py``)."""
    bam, normal_bam = inputs.bam, inputs.normal_bam
    reference = Reference(inputs.reference_fasta) if inputs.reference_fasta else None

    def count(path: str) -> pd.DataFrame:
        counts = count_sites(path, sites, filters, reference,
                             end_collisions=collision_correction)
        return correct_counts(counts) if collision_correction else counts

    try:
        sites, warnings = read_sites(inputs.sites, reference)
        sites = sites.drop_duplicates(["chrom", "pos", "ref", "alt"]).reset_index(drop=True)
        sample = _sample_name(bam)
        named = {sample: (bam, "plasma")}
        if normal_bam:
            normal = _sample_name(normal_bam)
            if normal == sample:
                normal = f"{normal}_normal"
            named[normal] = (normal_bam, "normal")
        counts = {name: count(path) for name, (path, _kind) in named.items()}
        controls = {f"control{i + 1}": count(path) for i, path in enumerate(inputs.control_bams)}
    finally:
        if reference is not None:
            reference.close()
    return _TrackedCounts(sites, warnings, sample, {n: k for n, (_p, k) in named.items()},
                          counts, controls)


def _tracked_observations(counted: _TrackedCounts, patient_id: str) -> pd.DataFrame:
    """All counts as one observation table (controls are their own patients), with site_id."""
    obs = []
    for name, df in {**counted.counts, **counted.controls}.items():
        tracked = name in counted.kinds
        obs.append(df.assign(sample_id=name, patient_id=patient_id if tracked else name,
                             sample_type=counted.kinds[name] if tracked else "control",
                             timepoint_days=None))
    obs = pd.concat(obs, ignore_index=True)
    obs["site_id"] = site_key(obs)
    return obs


def _tracking_background(background_path: str | None, sites: pd.DataFrame, obs: pd.DataFrame,
                         controls: list[str], params: BackgroundSettings
                         ) -> tuple[pd.DataFrame, pd.Series, float]:
    """Background per site_id, blacklist and detection threshold of ``plasmatrack track``: from
    a pipeline's background table, else fitted on the control counts, else none (flat prior)."""
    threshold = params.max_p_value
    if background_path:
        bg = read_tsv(background_path, dtype={"chrom": str, "ref": str, "alt": str})
        missing = [c for c in ("chrom", "pos", "ref", "alt", "bg_alpha", "bg_beta") if c not in bg]
        if missing:
            raise InputError(f"{background_path}: missing column(s) {', '.join(missing)} "
                             "(use results/variants/background.tsv of a pipeline run)")
        bg["site_id"] = site_key(bg)
        bg = bg.set_index("site_id")
        blacklisted = bg["blacklisted"].astype(str).str.lower().isin(["true", "1"]) if (
            "blacklisted" in bg) else pd.Series(False, index=bg.index)
    elif controls:
        fitted, thr, _ctrl = build_background(sites, obs, controls, params)
        threshold = float(thr["threshold"])
        fitted["site_id"] = site_key(fitted)
        bg = fitted.set_index("site_id")
        blacklisted = bg["blacklisted"].astype(bool)
    else:
        bg = pd.DataFrame(index=sites["site_id"])
        blacklisted = pd.Series(False, index=bg.index)
    return bg, blacklisted, threshold


def _with_background(obs: pd.DataFrame, bg: pd.DataFrame, prior_strength: float,
                     error_rate: float) -> pd.DataFrame:
    """Beta background (bg_alpha, bg_beta, background_rate) of each observation: the site's
    from ``bg``, else a prior of ``prior_strength`` pseudo-reads at ``error_rate``."""
    m = prior_strength
    alpha = obs["site_id"].map(bg["bg_alpha"]) if "bg_alpha" in bg else None
    beta = obs["site_id"].map(bg["bg_beta"]) if "bg_beta" in bg else None
    obs["bg_alpha"] = alpha.fillna(m * error_rate) if alpha is not None else m * error_rate
    obs["bg_beta"] = beta.fillna(m * (1 - error_rate)) if beta is not None else m * (1 - error_rate)
    obs["background_rate"] = obs["bg_alpha"] / (obs["bg_alpha"] + obs["bg_beta"])
    return obs


def _bam_contigs(bam: str) -> dict[str, int]:
    import pysam

    with pysam.AlignmentFile(bam, "rb") as handle:
        return dict(zip(handle.references, handle.lengths))
