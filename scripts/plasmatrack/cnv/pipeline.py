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

import pandas as pd

from ..errors import InputError
from ..io import read_tsv, write_tsv
from .call import (CallSettings, CalledSample, ReferenceInputs, SampleOutputs, analyse_bins,
                   call_sample, choose_reference, cnr_frame, read_genes, write_analysis,
                   write_called)
from .coverage import SEX_CHROMOSOMES
from .fragments import NO_SHIFT, estimate_shift, genome_copy_columns, read_fragment_lengths
from .genes import bin_class
from .summary import SummaryOutputs, SummarySettings, summarise_fits
from .tumour_fraction import HmmSettings, fit_joint, fit_tumour_fraction

log = logging.getLogger(__name__)

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
    return cnr_frame(table, str(path))


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


def analyse_sample(cnr: pd.DataFrame, sample_id: str, out: SampleOutputs,
                   genes_bed: str | os.PathLike | None, settings: CallSettings = CallSettings(),
                   reference_label: str = "", warning: str = "") -> dict:
    """Segments, SEG, gene statistics and info table of one sample's bins (``cnr``: CNVkit .cnr
    columns; its ``.cnr`` is the caller's to write). Returns the info row."""
    analysis = analyse_bins(cnr, sample_id, read_genes(genes_bed), settings, reference_label,
                            warning)
    write_analysis(analysis, out)
    return analysis.info


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
                    reference: ReferenceInputs, out: SampleOutputs, genes_bed: str | None,
                    settings: CallSettings = CallSettings()) -> CalledSample:
    """Rule ``cnv_call``: normalise one sample against the panel of normals (the reference
    :func:`.call.choose_reference` picks) and analyse it; writes every per-sample file once."""
    from .reference import read_cnn

    chosen = choose_reference(sample_id, reference, settings)
    called = call_sample(sample_id, read_cnn(target_cnn), read_cnn(antitarget_cnn), chosen,
                         read_genes(genes_bed), settings)
    write_called(called, out)
    return called


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


def summarise(samples: pd.DataFrame, fit_paths: dict[str, str], gene_stat_paths: dict[str, str],
              tumour_free: list[str], settings: SummarySettings, out: SummaryOutputs,
              identity: str | os.PathLike | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rule ``cnv_summary``: read every sample's fit and gene statistics, calibrate detection on
    the ``tumour_free`` samples and write the cohort tables (:func:`.summary.summarise_fits`).
    ``identity`` (identity_samples.tsv, when identity runs): tumour-free samples that failed it
    or are contaminated do not calibrate (:func:`.reference_pool.calibrating_samples`).
    Returns the TF and gene tables."""
    from .reference_pool import calibrating_samples

    tumour_free = calibrating_samples(tumour_free, identity)
    ids = samples["sample_id"]
    fits = pd.concat([read_tsv(fit_paths[s]) for s in ids], ignore_index=True)
    stats = {s: read_tsv(gene_stat_paths[s]) for s in ids}
    summary = summarise_fits(samples, fits, stats, tumour_free, settings)
    summary.write(out)
    return summary.tumour_fraction, summary.genes


def samples_frame(rows: list[dict]) -> pd.DataFrame:
    """Sample metadata rows -> the frame :func:`summarise` expects."""
    frame = pd.DataFrame(rows, columns=["sample_id", "patient_id", "sample_type",
                                        "timepoint_days"])
    frame["timepoint_days"] = pd.array(frame["timepoint_days"], dtype="Int64")
    return frame
