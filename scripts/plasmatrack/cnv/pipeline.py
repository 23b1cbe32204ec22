"""The copy-number stage's steps, called by the Snakemake rules (one function per rule) and by
the ``plasmatrack cnv`` / ``plasmatrack tumour-fraction`` commands.

Per sample: ``.cnr`` (CNVkit bins, log2 against the panel of normals), ``.cns`` and ``.seg``
(segments), ``.hmm_states.tsv`` (the HMM's state per bin), plus two internal tables the cohort
step gathers: ``.tf.tsv`` (the HMM fit summary) and ``.gene_stats.tsv`` (gene log2 and its
sampling error). Cohort: ``tumour_fraction.tsv`` (detection calibrated on the tumour-free
samples), ``genes.tsv``, ``erbb2.tsv`` and ``detection.tsv`` (the thresholds used and where they
came from)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import read_tsv, write_tsv
from .combine import cn_null_mean, cn_p_value
from .coverage import SEX_CHROMOSOMES, read_bed
from .fragments import NO_SHIFT, estimate_shift, genome_copy_columns, read_fragment_lengths
from .genes import GENE_COLUMNS, GeneSettings, bin_class, call_genes, gene_stats, gene_tau
from .tumour_fraction import (DetectionThresholds, HmmSettings, calibrate, fit_joint,
                              fit_tumour_fraction)

log = logging.getLogger(__name__)

TF_COLUMNS = ["sample_id", "patient_id", "timepoint_days", "tumour_fraction", "tf_lower",
              "tf_upper", "ploidy", "tf_detected", "method"]
TF_EXTRA = ["sample_type", "tumour_fraction_fit", "ploidy_fit", "llr", "min_llr",
            "altered_fraction", "n_bins", "fit_mode", "segment_method", "reference", "warning",
            "fragment_length_ratio", "fragment_length_shift", "fragment_length_shift_se",
            "fragment_length_note", "path_llr", "tumour_fraction_cn", "tf_cn_lower",
            "tf_cn_upper", "tf_cn_p_value", "tf_cn_detected", "tf_cn_informative"]
STATE_COLUMNS = ["chromosome", "start", "end", "bin_class", "log2", "state", "amp",
                 "expected_log2", "posterior"]


# ----------------------------------------------------------------------------------------------
# Per sample


def read_cnr(path: str | os.PathLike) -> pd.DataFrame:
    """A CNVkit .cnr as a table (chromosome as string)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: .cnr not found")
    table = pd.read_csv(path, sep="\t", dtype={"chromosome": str, "gene": str})
    missing = {"chromosome", "start", "end", "log2"} - set(table.columns)
    if missing:
        raise InputError(f"{path}: not a CNVkit .cnr (missing columns {sorted(missing)})")
    if "gene" not in table:
        table["gene"] = "-"
    if "weight" not in table:
        table["weight"] = 1.0
    return table


def hmm_bins(cnr: pd.DataFrame, exclude_chromosomes: tuple[str, ...] = ()) -> pd.DataFrame:
    """The HMM's input from a .cnr: bin class from the gene column (targets vs off-target bins
    are fitted with separate noise scales), CNVkit weights; sex chromosomes left out unless
    the caller decides otherwise. ``depth`` (mean read depth) comes along where the .cnr has it:
    with the bin length it gives the bin's read count, from which the HMM models each bin's
    counting noise (``HmmSettings.noise_model``)."""
    cols = ["chromosome", "start", "end", "log2", "weight"] + (["depth"] if "depth" in cnr else [])
    table = cnr[cols].copy()
    table["bin_class"] = bin_class(cnr["gene"])
    keep = ~table["chromosome"].isin(exclude_chromosomes)
    return table[keep].reset_index(drop=True)


MIN_OFF_TARGET_BINS = 50


def _off_target(bins: pd.DataFrame) -> pd.DataFrame:
    """The off-target bins of a panel's HMM input (all bins when there are fewer than
    ``MIN_OFF_TARGET_BINS``, e.g. whole-genome bins, which are all of one class)."""
    off = bins["bin_class"] == "antitarget"
    if off.sum() < MIN_OFF_TARGET_BINS:
        return bins
    return bins[off].reset_index(drop=True)


def analyse_sample(cnr: pd.DataFrame, sample_id: str, out_cns: str | os.PathLike,
                   out_seg: str | os.PathLike, out_gene_stats: str | os.PathLike,
                   out_info: str | os.PathLike, genes_bed: str | os.PathLike | None,
                   segment_method: str = "haar", segment_threshold: float | None = None,
                   reference_label: str = "", warning: str = "") -> dict:
    """Segments, SEG and gene statistics of one sample's bins (``cnr``: CNVkit .cnr columns), and
    a one-row info table (segmentation method, reference, warning) for the later steps."""
    from .segment import segment_bins, write_seg

    segments = segment_bins(cnr, sample_id, segment_method, segment_threshold)
    write_tsv(segments, out_cns)
    write_seg(segments, sample_id, out_seg)
    genes = read_bed(genes_bed, 4) if genes_bed else pd.DataFrame(
        columns=["chromosome", "start", "end", "name"])
    bins = cnr[["chromosome", "start", "end", "log2", "weight"]].copy()
    bins["bin_class"] = bin_class(cnr["gene"])
    stats = gene_stats(bins, genes)
    stats.insert(0, "sample_id", sample_id)
    write_tsv(stats, out_gene_stats)
    info = {"sample_id": sample_id, "segment_method": segments.attrs.get("method", segment_method),
            "reference": reference_label, "warning": warning}
    write_tsv(pd.DataFrame([info]), out_info)
    return info


def fit_samples(cnrs: dict[str, pd.DataFrame], infos: dict[str, dict], joint: list[str],
                conditional: list[str], hmm: HmmSettings | None, method: str,
                out_fits: str | os.PathLike, out_states: str | os.PathLike,
                lengths: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Fit the HMM to a patient's samples: ``joint`` ones share one state path (serial draws of
    one tumour), each of the ``conditional`` ones (the patient's normal) is fitted on that path;
    with an empty ``joint`` list each sample is fitted alone. Writes the fits (one row per
    sample) and the states (long, with sample_id) and returns the fits.

    ``lengths`` (sample -> per-bin fragment-length table, :mod:`.fragments`): the fragment-scale
    TF is converted to genome copies with the length ratio fitted on the joint draws together
    (or on each sample alone), columns ``tumour_fraction_genome``, ``tf_lower_genome``,
    ``tf_upper_genome`` and ``fragment_length_*``; without it the ratio is 1."""
    hmm = hmm or HmmSettings()
    bins = {s: hmm_bins(cnrs[s], SEX_CHROMOSOMES) for s in cnrs}
    if hmm.bin_classes == "off_target":
        bins = {s: _off_target(b) for s, b in bins.items()}
    results: dict[str, tuple[object, str]] = {}
    if joint:
        mode = "joint" if len(joint) > 1 else "single"
        fits = fit_joint([bins[s] for s in joint], hmm, [bins[s] for s in conditional])
        for sid, fit in zip(list(joint) + list(conditional), fits):
            results[sid] = (fit, mode if sid in joint else "conditional")
    else:
        for sid in conditional:
            results[sid] = (fit_tumour_fraction(bins[sid], hmm), "single")
    shifts = _length_shifts(results, joint, lengths)
    rows, states = [], []
    for sid, (fit, mode) in results.items():
        summary = fit.summary()
        rows.append({"sample_id": sid, **summary,
                     **genome_copy_columns(summary, shifts.get(sid, NO_SHIFT)),
                     **{k: v for k, v in infos[sid].items() if k != "sample_id"},
                     "method": method, "fit_mode": mode,
                     "joint_samples": ",".join(joint) if mode == "joint" else ""})
        states.append(fit.states[STATE_COLUMNS].assign(sample_id=sid))
    table = pd.DataFrame(rows)
    write_tsv(table, out_fits)
    write_tsv(pd.concat(states, ignore_index=True)[["sample_id", *STATE_COLUMNS]], out_states)
    return table


def _length_shifts(results: dict, joint: list[str], lengths: dict[str, pd.DataFrame] | None
                   ) -> dict:
    """Sample -> its :class:`~.fragments.LengthShift`: one fitted on the joint draws together
    (applied to the conditional normals as well), or one per sample fitted alone."""
    if not lengths:
        return {}

    def draw(sid):
        fit = results[sid][0]
        return lengths[sid], fit.states, fit.tumour_fraction

    if joint:
        shift = estimate_shift([draw(s) for s in joint if s in lengths])
        log.info("fragment lengths of %s: %s", ",".join(joint), shift)
        return {sid: shift for sid in results}
    return {sid: estimate_shift([draw(sid)]) for sid in results if sid in lengths}


def fit_patient(sample_ids: list[str], sample_types: list[str], cnr_paths: list[str],
                info_paths: list[str], out_fits: str, out_states: str,
                hmm: HmmSettings | None = None, mode: str = "joint", method: str = "hmm",
                length_paths: list[str] | None = None) -> pd.DataFrame:
    """Rule ``cnv_hmm``: one patient's HMM fits. ``mode`` joint: the plasma draws share the state
    path and the normals are fitted on it; ``sample``: every sample alone. ``length_paths``
    (per sample, fragment-length tables): report TF in genome copies (:mod:`.fragments`)."""
    cnrs = {s: read_cnr(p) for s, p in zip(sample_ids, cnr_paths)}
    lengths = ({s: read_fragment_lengths(p) for s, p in zip(sample_ids, length_paths)}
               if length_paths else None)
    infos = {s: read_tsv(p).iloc[0].to_dict() for s, p in zip(sample_ids, info_paths)}
    if mode not in ("joint", "sample"):
        raise InputError(f"config cnv.hmm_mode: {mode!r} is not joint or sample")
    plasma = [s for s, t in zip(sample_ids, sample_types) if t != "normal"]
    normals = [s for s, t in zip(sample_ids, sample_types) if t == "normal"]
    if mode == "sample":
        return fit_samples(cnrs, infos, [], list(sample_ids), hmm, method, out_fits, out_states,
                           lengths)
    return fit_samples(cnrs, infos, plasma, normals, hmm, method, out_fits, out_states, lengths)


def split_patient(fits: str, states: str, sample_id: str, out_fit: str, out_states: str) -> None:
    """Rule ``cnv_hmm_sample``: one sample's rows of its patient's fit tables."""
    table = read_tsv(fits)
    write_tsv(table[table["sample_id"] == sample_id], out_fit)
    st = read_tsv(states, dtype={"sample_id": str, "chromosome": str})
    write_tsv(st[st["sample_id"] == sample_id].drop(columns="sample_id"), out_states)


def fix_and_analyse(sample_id: str, target_cnn: str, antitarget_cnn: str,
                    reference_cnn: str | None, pool: list[tuple[str, str, str]], fasta: str,
                    targets_bed: str, antitargets_bed: str, out_cnr: str, out_cns: str,
                    out_seg: str, out_gene_stats: str, out_info: str, genes_bed: str | None,
                    segment_method: str = "haar", segment_threshold: float | None = None,
                    bias: str = "robust", pool_size: int | None = None,
                    pool_corrections: bool = False, shrink: bool = True) -> dict:
    """Rule ``cnv_call``: normalise one sample against the panel of normals and analyse it.

    ``pool``: (sample_id, target .cnn, antitarget .cnn) of every sample in the panel of normals,
    or empty when no leave-one-out is wanted. A sample that is itself in the pool is normalised
    against a reference built from the others (leave-one-out; flat when it is the only one),
    every other sample against ``reference_cnn``. ``pool_size``: members of the panel behind
    ``reference_cnn`` (for the label; default ``len(pool)``). ``pool_corrections``: how a
    leave-one-out reference pools its members, ``shrink``: whether it is shrunk, with the noise
    measured on the whole pool (:func:`.reference.build_reference`)."""
    from .coverage import write_cnn
    from .reference import (LOO_FLAT_WARNING, build_reference, fix_sample, flat_reference,
                            read_reference)

    others = [p for p in pool if p[0] != sample_id]
    if len(others) < len(pool):
        if others:
            refarr = build_reference([p[1] for p in others], [p[2] for p in others], fasta,
                                     pool_corrections=pool_corrections, shrink=shrink,
                                     noise_members=([p[1] for p in pool], [p[2] for p in pool]))
            label, warning = f"leave-one-out panel of normals (n={len(others)})", ""
        else:
            refarr = flat_reference(targets_bed, antitargets_bed, fasta)
            label, warning = "flat", LOO_FLAT_WARNING
    else:
        if not reference_cnn:
            raise InputError(f"{sample_id}: no reference given and not in the pool")
        refarr, warning = read_reference(reference_cnn)
        n_pool = len(pool) if pool_size is None else pool_size
        label = "flat" if warning else f"panel of normals (n={n_pool})"
    cnarr = fix_sample(target_cnn, antitarget_cnn, refarr, bias=bias)
    write_cnn(cnarr, out_cnr, sample_id)
    return analyse_sample(read_cnr(out_cnr), sample_id, out_cns, out_seg, out_gene_stats,
                          out_info, genes_bed, segment_method, segment_threshold, label, warning)


def make_reference(pool_targets: list[str], pool_antitargets: list[str], fasta: str,
                   targets_bed: str, antitargets_bed: str, out_reference: str,
                   pool_corrections: bool = False, shrink: bool = True) -> str:
    """Rule ``cnv_reference``: the pooled panel of normals, or a flat reference with a warning
    when the pool is empty. Returns the warning ('' when none). ``pool_corrections``: config
    ``cnv.reference_correction``; ``shrink``: ``cnv.reference_shrinkage``
    (:func:`.reference.build_reference`)."""
    from .reference import FLAT_WARNING, build_reference, flat_reference, write_reference

    if pool_targets:
        refarr = build_reference(pool_targets, pool_antitargets, fasta,
                                 pool_corrections=pool_corrections, shrink=shrink)
        warning = ""
    else:
        refarr = flat_reference(targets_bed, antitargets_bed, fasta)
        warning = FLAT_WARNING
        log.warning(warning)
    write_reference(refarr, out_reference, warning)
    return warning


# ----------------------------------------------------------------------------------------------
# Cohort


PATH_GIVEN_MODES = ("joint", "conditional")


def summarise(samples: pd.DataFrame, fit_paths: dict[str, str], gene_stat_paths: dict[str, str],
              tumour_free: list[str], floor: DetectionThresholds, margin: float,
              gene_settings: GeneSettings, her2_gene: str, out_tf: str | os.PathLike,
              out_genes: str | os.PathLike, out_erbb2: str | os.PathLike,
              out_detection: str | os.PathLike | None = None,
              floor_joint: DetectionThresholds | None = None, alpha: float = 0.01
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rule ``cnv_summary``: calibrate detection on the tumour-free samples' (leave-one-out)
    fits, then write the cohort's TF and gene tables.

    ``samples``: sample_id, patient_id, sample_type, timepoint_days (one row per sample with a
    fit). ``tumour_free``: sample IDs that are known to carry no tumour DNA (normals, healthy
    plasma). Fits whose state path was free (``single``) and fits on a path other draws defined
    (``joint``, ``conditional``) have different null distributions of the LLR (a free path can
    chase noise), so each group gets its own floor (``floor``, ``floor_joint``) and is calibrated
    on the tumour-free samples fitted the same way. The same tumour-free LLRs give each group's
    exponential null for ``tf_cn_p_value`` (``combine.cn_null_mean``; the floor maps to
    ``alpha``), which the combined estimate (rule ``cnv_combine``) uses."""
    fits = pd.concat([read_tsv(fit_paths[s]) for s in samples["sample_id"]], ignore_index=True)
    if "fit_mode" not in fits:
        fits["fit_mode"] = "single"
    fits["fit_mode"] = fits["fit_mode"].fillna("single")
    groups = {"path-free": floor, "path-given": floor_joint or floor}
    thresholds, detection_rows, null_mean = {}, [], {}
    for group, group_floor in groups.items():
        in_group = fits["fit_mode"].isin(PATH_GIVEN_MODES) == (group == "path-given")
        calib = fits[in_group & fits["sample_id"].isin(tumour_free)]
        thresholds[group] = (calibrate(calib["llr"].to_numpy(float), group_floor, margin)
                             if len(calib) else group_floor)
        null_mean[group] = cn_null_mean(calib["llr"].to_numpy(float), group_floor.min_llr, alpha)
        detection_rows.append({"fit_group": group, **thresholds[group].as_dict(),
                               "margin": margin, "n_samples": int(in_group.sum()),
                               "tumour_free_samples": ",".join(sorted(calib["sample_id"]))})
    rows, fragment_scale = [], {}
    meta = samples.set_index("sample_id")
    # A shared state path is only as good as the evidence of the draws that define it. Where a
    # patient's jointly fitted draws together stay below the path-free threshold, the path may
    # be noise that they chased (demo P02: one draw's chromosome-wide wave of -0.13 became a
    # "loss" at TF 0.15, truth 0.03), so its samples are judged as if fitted alone.
    patient_of = fits["sample_id"].map(meta["patient_id"])
    defining = fits["fit_mode"].isin(["joint", "single"])  # the draws a path comes from
    path_llr = fits.loc[defining, "llr"].astype(float).groupby(patient_of[defining]).sum()
    for i, fit in fits.iterrows():
        sid = fit["sample_id"]
        info = meta.loc[sid]
        evidence = float(path_llr.get(patient_of[i], np.nan))
        path_given = fit["fit_mode"] in PATH_GIVEN_MODES and not (
            evidence < thresholds["path-free"].min_llr)
        th = thresholds["path-given" if path_given else "path-free"]
        detected = th.detected(float(fit["llr"]), float(fit["altered_fraction"]))
        # TF in genome copies (fit tables written before the length correction lack it)
        t_genome = float(fit.get("tumour_fraction_genome", fit["tumour_fraction_fit"]))
        lower_genome = float(fit.get("tf_lower_genome", fit["tf_lower"]))
        upper_genome = float(fit.get("tf_upper_genome", fit["tf_upper"]))
        note = fit.get("fragment_length_note", "")
        p_cn = cn_p_value(float(fit["llr"]), null_mean["path-given" if path_given else
                                                      "path-free"],
                          float(fit["altered_fraction"]), th.min_altered_fraction)
        rows.append({
            "sample_id": sid, "patient_id": info["patient_id"],
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
        })
        # Gene copy numbers come from read-depth ratios, i.e. on the fragment scale.
        fragment_scale[sid] = {"tumour_fraction": float(fit["tumour_fraction_fit"]) if detected
                               else 0.0, "tf_lower": float(fit["tf_lower"]) if detected else 0.0,
                               "tf_upper": float(fit["tf_upper"])}
    tf_table = pd.DataFrame(rows, columns=TF_COLUMNS + TF_EXTRA)
    write_tsv(tf_table, out_tf)
    if out_detection:
        write_tsv(pd.DataFrame(detection_rows), out_detection)

    stats = {s: read_tsv(gene_stat_paths[s]) for s in samples["sample_id"]}
    normal_stats = [stats[s] for s in tumour_free if s in stats]
    tau = gene_tau(pd.concat(normal_stats)) if normal_stats else pd.Series(dtype=float)
    gene_rows = []
    for _, tf_row in tf_table.iterrows():
        calls = call_genes(stats[tf_row["sample_id"]], tau,
                           {**tf_row.to_dict(), **fragment_scale[tf_row["sample_id"]]},
                           gene_settings)
        calls["patient_id"] = tf_row["patient_id"]
        calls["timepoint_days"] = tf_row["timepoint_days"]
        calls["sample_type"] = tf_row["sample_type"]
        gene_rows.append(calls)
    extra = ["sample_type", "amplified_pcn", "excess_copies", "se", "n_bins", "bin_class",
             "chromosome", "start", "end"]
    genes = (pd.concat(gene_rows, ignore_index=True) if gene_rows
             else pd.DataFrame(columns=GENE_COLUMNS + extra))
    genes = genes[GENE_COLUMNS + extra]
    write_tsv(genes, out_genes)
    write_tsv(genes[genes["gene"] == her2_gene], out_erbb2)
    return tf_table, genes


def samples_frame(rows: list[dict]) -> pd.DataFrame:
    """Sample metadata rows -> the frame :func:`summarise` expects."""
    frame = pd.DataFrame(rows, columns=["sample_id", "patient_id", "sample_type",
                                        "timepoint_days"])
    frame["timepoint_days"] = pd.array(frame["timepoint_days"], dtype="Int64")
    return frame


# ----------------------------------------------------------------------------------------------
# ichorCNA-compatible WIG path


def checked_id(value: str, what: str) -> str:
    """``value`` if it is a safe identifier (it becomes part of file names), else InputError."""
    from ..ids import id_problem

    problem = id_problem(value)
    if problem:
        raise InputError(f"{what}: {problem} (give --sample-id / --patient-id)")
    return value


def wig_profile(reads_wig: str, gc_wig: str, map_wig: str, panel: pd.DataFrame | None,
                centromeres: pd.DataFrame | None, chromosomes: list[str] | None,
                min_mappability: float, seed: int = 0) -> pd.DataFrame:
    """Corrected, panel-normalised bins of one WIG sample, filtered as ichorCNA filters them
    (valid, mappable, outside centromeres, on the analysed chromosomes)."""
    from . import wig

    table = wig.correct_readcounts(wig.load_tracks(reads_wig, gc_wig, map_wig),
                                   min_mappability, seed=seed)
    if panel is not None:
        table = wig.apply_panel(table, panel)
    keys = table["chromosome"].map(wig.chrom_key)
    wanted = [wig.chrom_key(c) for c in (chromosomes or wig.AUTOSOMES)]
    keep = (keys.isin(wanted) & table["valid"] & (table["map"] >= min_mappability)
            & np.isfinite(table["log2"].to_numpy(float)))
    if centromeres is not None:
        keep &= ~wig.mask_regions(table, centromeres)
    out = table.loc[keep].reset_index(drop=True)
    if out.empty:
        raise InputError(f"{reads_wig}: no usable bins after filtering (chromosome names "
                         f"{sorted(set(keys))[:5]}..., wanted {wanted[:3]}...)")
    out["log2"] -= np.median(out["log2"])
    return out


def run_wig(reads_wig: str, gc_wig: str, map_wig: str, out_dir: str | os.PathLike,
            sample_id: str | None = None, patient_id: str | None = None,
            normal_panel: str | None = None, normal_wigs: list[str] = (),
            centromere: str | None = None, chromosomes: list[str] | None = None,
            min_mappability: float = 0.9, genes_bed: str | None = None,
            her2_gene: str = "ERBB2", hmm: HmmSettings | None = None,
            thresholds: DetectionThresholds | None = None, calibrate_on_panel: bool = False,
            margin: float = 1.5, gene_settings: GeneSettings | None = None,
            segment_method: str = "haar", plot: bool = True) -> pd.DataFrame:
    """``plasmatrack tumour-fraction``: the pipeline's per-sample outputs and cohort tables for
    one HMMcopy WIG sample. Returns the tumour-fraction table (one row)."""
    from . import wig
    from .coverage import label_by_genes

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sid = checked_id(sample_id or Path(reads_wig).name.split(".")[0], "sample ID")
    pid = checked_id(patient_id or sid, "patient ID")
    hmm = hmm or HmmSettings()
    panel = None
    if normal_panel:
        panel = wig.read_normal_panel(normal_panel)
    if normal_wigs:
        profiles = {Path(p).name.split(".")[0]: wig.correct_readcounts(
            wig.load_tracks(p, gc_wig, map_wig), min_mappability) for p in normal_wigs}
        built = wig.build_panel(profiles)
        panel = built if panel is None else panel
        if normal_panel is None:
            write_tsv(built, out / "normal_panel.tsv")
    centromeres = wig.read_centromeres(centromere) if centromere else None
    profile = wig_profile(reads_wig, gc_wig, map_wig, panel, centromeres, chromosomes,
                          min_mappability)
    genes = read_bed(genes_bed, 4) if genes_bed else None
    cnr = pd.DataFrame({
        "chromosome": profile["chromosome"], "start": profile["start"], "end": profile["end"],
        "gene": label_by_genes(profile, genes), "log2": profile["log2"],
        "depth": profile["reads"], "weight": 1.0,
    })
    write_tsv(cnr, out / f"{sid}.cnr")
    label = "ichorCNA-style panel of normals" if panel is not None else "none (sample median)"
    warning = "" if panel is not None else "no panel of normals: ratios to the sample's median"
    paths = {k: out / f"{sid}.{k}" for k in ("cns", "seg", "hmm_states.tsv", "tf.tsv",
                                              "gene_stats.tsv", "info.tsv")}
    info = analyse_sample(cnr, sid, paths["cns"], paths["seg"], paths["gene_stats.tsv"],
                          paths["info.tsv"], genes_bed, segment_method, None, label, warning)
    fit_samples({sid: cnr}, {sid: info}, [sid], [], hmm, "hmm:wig", paths["tf.tsv"],
                out / f"{sid}.hmm_states_long.tsv")
    split_patient(paths["tf.tsv"], out / f"{sid}.hmm_states_long.tsv", sid, paths["tf.tsv"],
                  paths["hmm_states.tsv"])
    (out / f"{sid}.hmm_states_long.tsv").unlink()
    rows = [{"sample_id": sid, "patient_id": pid, "sample_type": "plasma",
             "timepoint_days": None}]
    fit_paths = {sid: str(paths["tf.tsv"])}
    stat_paths = {sid: str(paths["gene_stats.tsv"])}
    tumour_free = []
    floor = thresholds or DetectionThresholds()
    if calibrate_on_panel and panel is not None:
        normal_cols = [c for c in panel.columns if c.startswith("normal:")]
        if len(normal_cols) < 3:
            raise InputError(f"{normal_panel or 'panel'}: calibration needs >= 3 normal profiles "
                             f"in the panel, found {len(normal_cols)}")
        for name, fit_row, stats in _panel_normals(panel, normal_cols, centromeres, chromosomes,
                                                    genes, hmm):
            nid = f"normal_{len(tumour_free) + 1}"
            npaths = {k: out / "calibration" / f"{nid}.{k}" for k in ("tf.tsv", "gene_stats.tsv")}
            write_tsv(pd.DataFrame([{**fit_row, "sample_id": nid, "reference": name}]),
                      npaths["tf.tsv"])
            write_tsv(stats.assign(sample_id=nid), npaths["gene_stats.tsv"])
            rows.append({"sample_id": nid, "patient_id": "panel_of_normals",
                         "sample_type": "normal", "timepoint_days": None})
            fit_paths[nid] = str(npaths["tf.tsv"])
            stat_paths[nid] = str(npaths["gene_stats.tsv"])
            tumour_free.append(nid)
    tf_table, _ = summarise(samples_frame(rows), fit_paths, stat_paths, tumour_free, floor,
                            margin, gene_settings or GeneSettings(), her2_gene,
                            out / "tumour_fraction.tsv", out / "genes.tsv", out / "erbb2.tsv",
                            out / "detection.tsv")
    if plot:
        from .plot import plot_states

        states = pd.read_csv(paths["hmm_states.tsv"], sep="\t", dtype={"chromosome": str})
        summary = tf_table[tf_table["sample_id"] == sid].iloc[0].to_dict()
        summary["tumour_fraction"] = summary["tumour_fraction_fit"]
        plot_states([(sid, states, summary)], out / f"{sid}.cnv.png")
    return tf_table


def _panel_normals(panel: pd.DataFrame, normal_cols: list[str], centromeres, chromosomes,
                   genes, hmm: HmmSettings, only: list[str] | None = None):
    """Leave-one-out HMM fits and gene statistics of the healthy profiles stored in a panel
    (each profile against the median of all the others; ``only``: fit just these columns)."""
    from . import wig

    base = panel[["chromosome", "start", "end"]].copy()
    keys = base["chromosome"].map(wig.chrom_key)
    wanted = [wig.chrom_key(c) for c in (chromosomes or wig.AUTOSOMES)]
    keep = keys.isin(wanted).to_numpy()
    if centromeres is not None:
        keep &= ~wig.mask_regions(base, centromeres)
    matrix = panel[normal_cols].to_numpy(float)
    for i, col in enumerate(normal_cols):
        if only is not None and col not in only:
            continue
        others = np.delete(matrix, i, axis=1)
        with np.errstate(all="ignore"), _quiet_nanmedian():
            y = matrix[:, i] - np.nanmedian(others, axis=1)
        ok = keep & np.isfinite(y)
        bins = base[ok].assign(log2=y[ok] - np.median(y[ok]), weight=1.0, bin_class="target")
        fit = fit_tumour_fraction(bins, hmm)
        stats = gene_stats(bins, genes) if genes is not None else pd.DataFrame(
            columns=["gene", "log2_ratio", "se"])
        yield col.removeprefix("normal:"), {**fit.summary(), "method": "hmm:wig"}, stats


class _quiet_nanmedian:
    """Silence numpy's all-NaN-slice warning (bins masked in every other normal)."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


# ----------------------------------------------------------------------------------------------
# Combined tumour fraction (rule cnv_combine)


def baf_draws(cn: pd.DataFrame, tracked: pd.DataFrame, states: dict[str, pd.DataFrame],
              source: str = "tracked_variants.tsv") -> pd.DataFrame:
    """BAF tumour fractions of every patient's plasma draws (``baf.DRAW_COLUMNS`` plus
    ``tf_baf_p_value``). Each patient's segments come from the copy-number states of its draw
    with the largest copy-number LLR (the one whose path is best supported)."""
    from .baf import DRAW_COLUMNS, baf_tumour_fraction
    from .combine import baf_p_value

    parts = []
    plasma = cn[cn["sample_type"].astype(str) == "plasma"]
    for patient, rows in plasma.groupby("patient_id", sort=True):
        mine = tracked[tracked["patient_id"].astype(str) == str(patient)]
        with_states = rows[rows["sample_id"].isin(states)]
        if mine.empty or with_states.empty:
            continue
        reference = str(with_states.loc[with_states["llr"].astype(float).idxmax(), "sample_id"])
        draws, _ = baf_tumour_fraction(mine, {reference: states[reference]}, reference,
                                       source=source)
        parts.append(draws)
    table = (pd.concat(parts, ignore_index=True) if parts
             else pd.DataFrame(columns=DRAW_COLUMNS))
    table["tf_baf_p_value"] = [baf_p_value(float(v)) for v in table["llr_baf"]]
    return table


def combine_tumour_fractions(cn_path: str, out_tf: str, out_baf: str, snv_path: str | None = None,
                             tracked_path: str | None = None,
                             state_paths: dict[str, str] | None = None, alpha: float = 0.01,
                             methods: tuple[str, ...] = ("cn", "snv")
                             ) -> pd.DataFrame:
    """Rule ``cnv_combine``: the published ``tumour_fraction.tsv`` (one combined estimate per
    sample, the per-method columns beside it) and the BAF table, from the copy-number table, the
    SNV table and the tracked variants (``cnv/combine.py`` for the method)."""
    from .combine import combine_draws

    cn = read_tsv(cn_path)
    snv = read_tsv(snv_path) if snv_path and "snv" in methods else None
    baf = None
    if tracked_path and state_paths:  # reported always; combined only when in ``methods``
        states = {s: read_tsv(p, dtype={"chromosome": str}) for s, p in state_paths.items()}
        tracked = read_tsv(tracked_path, dtype={"sample_id": str, "patient_id": str,
                                                "chrom": str}, low_memory=False)
        baf = baf_draws(cn, tracked, states, source=str(tracked_path))
    table = combine_draws(cn, snv, baf, alpha, tuple(methods))
    write_tsv(baf if baf is not None else pd.DataFrame(columns=["sample_id"]), out_baf)
    write_tsv(table, out_tf)
    n_det = int(table["tf_detected"].sum())
    log.info("combined tumour fraction: %d of %d samples detected (alpha %g, methods %s)",
             n_det, len(table), alpha, "+".join(methods))
    return table
