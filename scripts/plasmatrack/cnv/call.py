"""One sample's copy-number call: its reference chosen from the panel of normals, CNVkit ``fix``,
segments and gene statistics, computed on CNVkit arrays and tables; the rule ``cnv_call``
(:func:`.pipeline.fix_and_analyse`) reads the inputs and writes the outputs around it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pandas as pd

from ..errors import InputError
from ..io import atomic_open, write_tsv
from .coverage import cnn_text, read_bed
from .genes import bin_class, gene_stats


@dataclass(frozen=True)
class CallSettings:
    """How a sample is normalised and segmented (config ``cnv``: ``segment_method``,
    ``segment_threshold``, ``bias_correction``; ``pool_corrections`` and ``shrink`` follow from
    ``reference_correction``, ``bias_correction`` and ``reference_shrinkage``)."""

    segment_method: str = "haar"
    segment_threshold: float | None = None
    bias: str = "robust"
    pool_corrections: bool = False
    shrink: bool = True

    @classmethod
    def from_config(cls, section: dict) -> "CallSettings":
        """Settings from the config's ``cnv`` mapping."""
        # The reference pools CNVkit-corrected coverage when the samples get CNVkit's
        # corrections too; empirical-Bayes shrinkage only of a raw pool's bin deviations.
        pool_corrections = (section["reference_correction"] == "cnvkit"
                            or section["bias_correction"] == "cnvkit")
        return cls(segment_method=section["segment_method"],
                   segment_threshold=section["segment_threshold"],
                   bias=section["bias_correction"], pool_corrections=pool_corrections,
                   shrink=bool(section["reference_shrinkage"]) and not pool_corrections)


@dataclass(frozen=True)
class PoolMember:
    """A sample of the panel of normals and its coverage files."""

    sample_id: str
    target_cnn: str
    antitarget_cnn: str


@dataclass(frozen=True)
class ReferenceInputs:
    """What a sample can be normalised against: the cohort's reference ``.cnn`` and, when
    leave-one-out is wanted, the members of the panel of normals behind it (``pool``;
    ``pool_size``: members behind ``reference_cnn``, for the label, default ``len(pool)``). The
    FASTA and bins serve a leave-one-out or flat reference."""

    fasta: str
    targets_bed: str
    antitargets_bed: str
    reference_cnn: str | None = None
    pool: tuple[PoolMember, ...] = ()
    pool_size: int | None = None


@dataclass
class Reference:
    """A CNVkit reference array with its label and warning for the tables."""

    array: object
    label: str
    warning: str = ""


@dataclass(frozen=True)
class SampleOutputs:
    """One sample's per-sample files: ``.cnr``, ``.cns``, ``.seg``, ``.gene_stats.tsv``,
    ``.info.tsv`` (the info table: segmentation method, reference, warning)."""

    cnr: str | os.PathLike
    cns: str | os.PathLike
    seg: str | os.PathLike
    gene_stats: str | os.PathLike
    info: str | os.PathLike

    @classmethod
    def beside(cls, prefix: str | os.PathLike) -> "SampleOutputs":
        """``<prefix>.cnr``, ``<prefix>.cns``, ... (the pipeline's per-sample names)."""
        return cls(*(f"{prefix}.{ext}" for ext in ("cnr", "cns", "seg", "gene_stats.tsv",
                                                   "info.tsv")))


@dataclass
class SampleAnalysis:
    """Segments (CNVkit ``.cns`` columns), gene statistics and the info row of one sample."""

    sample_id: str
    segments: pd.DataFrame
    gene_stats: pd.DataFrame
    info: dict = field(default_factory=dict)


@dataclass
class CalledSample:
    """A fixed sample: its bins as CNVkit writes them (``cnr_text``), the same bins as a table
    (``cnr``) and their analysis."""

    cnr_text: str
    cnr: pd.DataFrame
    analysis: SampleAnalysis


def cnr_frame(table: pd.DataFrame, source: str) -> pd.DataFrame:
    """A .cnr table as the analysis expects it (``gene`` and ``weight`` filled in when absent);
    InputError naming ``source`` when a required column is missing."""
    missing = {"chromosome", "start", "end", "log2"} - set(table.columns)
    if missing:
        raise InputError(f"{source}: not a CNVkit .cnr (missing columns {sorted(missing)})")
    if "gene" not in table:
        table["gene"] = "-"
    if "weight" not in table:
        table["weight"] = 1.0
    return table


def parse_cnr(text: str, source: str) -> pd.DataFrame:
    """A .cnr's text as a table (chromosome and gene as strings)."""
    import io

    table = pd.read_csv(io.StringIO(text), sep="\t", dtype={"chromosome": str, "gene": str})
    return cnr_frame(table, source)


def read_genes(genes_bed: str | os.PathLike | None) -> pd.DataFrame:
    """The genes BED (chromosome, start, end, name), empty when none is given."""
    if genes_bed:
        return read_bed(genes_bed, 4)
    return pd.DataFrame(columns=["chromosome", "start", "end", "name"])


def choose_reference(sample_id: str, inputs: ReferenceInputs, settings: CallSettings
                     ) -> Reference:
    """The reference ``sample_id`` is fixed against. A sample that is itself in the pool gets one
    built from the others (leave-one-out; flat when it is the only one), with the noise for the
    shrinkage measured on the whole pool (:func:`.reference.build_reference`); every other
    sample gets ``inputs.reference_cnn``."""
    from .reference import LOO_FLAT_WARNING, build_reference, flat_reference, read_reference

    pool = inputs.pool
    others = [m for m in pool if m.sample_id != sample_id]
    if len(others) < len(pool):
        if not others:
            return Reference(flat_reference(inputs.targets_bed, inputs.antitargets_bed,
                                            inputs.fasta), "flat", LOO_FLAT_WARNING)
        array = build_reference([m.target_cnn for m in others],
                                [m.antitarget_cnn for m in others], inputs.fasta,
                                pool_corrections=settings.pool_corrections,
                                shrink=settings.shrink,
                                noise_members=([m.target_cnn for m in pool],
                                               [m.antitarget_cnn for m in pool]))
        return Reference(array, f"leave-one-out panel of normals (n={len(others)})")
    if not inputs.reference_cnn:
        raise InputError(f"{sample_id}: no reference given and not in the pool")
    array, warning = read_reference(inputs.reference_cnn)
    n_pool = len(pool) if inputs.pool_size is None else inputs.pool_size
    return Reference(array, "flat" if warning else f"panel of normals (n={n_pool})", warning)


def analyse_bins(cnr: pd.DataFrame, sample_id: str, genes: pd.DataFrame,
                 settings: CallSettings, reference_label: str = "", warning: str = ""
                 ) -> SampleAnalysis:
    """Segments and gene statistics of one sample's bins (``cnr``: CNVkit .cnr columns) and
    the info row (segmentation method, reference, warning) the later steps carry."""
    from .segment import segment_bins

    segments = segment_bins(cnr, sample_id, settings.segment_method, settings.segment_threshold)
    bins = cnr[["chromosome", "start", "end", "log2", "weight"]].copy()
    bins["bin_class"] = bin_class(cnr["gene"])
    stats = gene_stats(bins, genes)
    stats.insert(0, "sample_id", sample_id)
    info = {"sample_id": sample_id,
            "segment_method": segments.attrs.get("method", settings.segment_method),
            "reference": reference_label, "warning": warning}
    return SampleAnalysis(sample_id, segments, stats, info)


def call_sample(sample_id: str, target, antitarget, reference: Reference, genes: pd.DataFrame,
                settings: CallSettings) -> CalledSample:
    """CNVkit ``fix`` of one sample's target and antitarget coverage (CopyNumArrays) against
    ``reference``, then :func:`analyse_bins`."""
    from .reference import fix_sample

    cnarr = fix_sample(target, antitarget, reference.array, bias=settings.bias)
    text = cnn_text(cnarr)
    # The analysis reads the bins at the precision the .cnr stores them (CNVkit's %.6g), as the
    # HMM (rule cnv_hmm) reads them from the file: segments and fits see the same numbers.
    cnr = parse_cnr(text, f"{sample_id}.cnr")
    analysis = analyse_bins(cnr, sample_id, genes, settings, reference.label, reference.warning)
    return CalledSample(text, cnr, analysis)


def write_analysis(analysis: SampleAnalysis, out: SampleOutputs) -> None:
    """The ``.cns``, ``.seg``, gene statistics and info files of one sample (not its ``.cnr``,
    whose format depends on where the bins came from)."""
    from .segment import write_seg

    write_tsv(analysis.segments, out.cns)
    write_seg(analysis.segments, analysis.sample_id, out.seg)
    write_tsv(analysis.gene_stats, out.gene_stats)
    write_tsv(pd.DataFrame([analysis.info]), out.info)


def write_called(called: CalledSample, out: SampleOutputs) -> None:
    """Every per-sample file of a fixed sample."""
    with atomic_open(out.cnr) as handle:
        handle.write(called.cnr_text)
    write_analysis(called.analysis, out)
