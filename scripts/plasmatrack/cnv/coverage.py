"""Bins and per-bin coverage, through CNVkit's Python API (cnvlib).

Bins
----
- Capture panels (CNVkit's hybrid design): the panel's targets (split when longer than
  ``target_avg_size``) plus off-target "antitarget" bins between them, cut from the accessible
  genome (``cnvlib.access`` on the reference: runs of N removed, gaps under 5 kb joined, optional
  exclusion BEDs such as a blacklist subtracted).
- Whole-genome data: the accessible genome cut into bins of about ``bin_size`` bp (CNVkit's WGS
  recipe: ``target`` with ``avg_size``), no antitargets.
Bin names (the ``gene`` column) are the names of the genes BED they overlap (``-`` if none) for
targets and WGS bins, ``Antitarget`` for antitargets, so gene-level statistics can find them.

Coverage
--------
CNVkit's ``coverage`` (``samtools bedcov`` through pysam): mean read depth per bin from reads with
mapping quality >= ``min_mapq`` that are not unmapped, secondary, QC-failed or duplicates
(flags 0x704). With a fragment-size window (e.g. 90-150 bp), the BAM is first filtered to the
reads of properly paired fragments whose template length is inside the window, into a temporary
indexed BAM, so CNVkit counts only those. Picard CalculateHsMetrics per-target tables (CNVkit's
regression input) are imported with ``cnvlib.importers.do_import_picard``.

Coordinates are 0-based half-open throughout (BED).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import atomic_open, atomic_path

log = logging.getLogger(__name__)

ANTITARGET = "Antitarget"
# CNVkit names off-target bins "Antitarget" (its own files) or "Background" (Picard imports).
OFF_TARGET_NAMES = {"Antitarget", "Background"}
SEX_CHROMOSOMES = ("chrX", "chrY", "X", "Y")


def read_bed(path: str | os.PathLike, min_columns: int = 3) -> pd.DataFrame:
    """A BED file as chromosome, start, end[, name] (0-based half-open)."""
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", header=None, comment="#", dtype={0: str})
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=["chromosome", "start", "end", "name"])
    if table.shape[1] < min_columns:
        raise InputError(f"{path}: a BED needs at least {min_columns} columns")
    table = table.iloc[:, :4] if table.shape[1] >= 4 else table.iloc[:, :3]
    table.columns = ["chromosome", "start", "end", "name"][: table.shape[1]]
    return table


def label_by_genes(bins: pd.DataFrame, genes: pd.DataFrame | None) -> np.ndarray:
    """The name of the first gene each bin overlaps, ``-`` for none."""
    labels = np.full(len(bins), "-", dtype=object)
    if genes is None or not len(genes):
        return labels
    for chrom, sub in genes.groupby("chromosome", sort=False):
        sel = np.flatnonzero((bins["chromosome"] == chrom).to_numpy())
        if not len(sel):
            continue
        b_start = bins["start"].to_numpy()[sel]
        b_end = bins["end"].to_numpy()[sel]
        for _, gene in sub.sort_values("start", ascending=False).iterrows():
            hit = (b_end > gene["start"]) & (b_start < gene["end"])
            labels[sel[hit]] = gene["name"]
    return labels


def _garray(table: pd.DataFrame):
    from skgenome import GenomicArray

    data = table[["chromosome", "start", "end"]].copy()
    data["gene"] = table["name"] if "name" in table else "-"
    return GenomicArray(data.reset_index(drop=True))


def make_bins(fasta: str | os.PathLike, out_targets: str | os.PathLike,
              out_antitargets: str | os.PathLike, out_access: str | os.PathLike | None = None,
              panel_bed: str | os.PathLike | None = None,
              genes_bed: str | os.PathLike | None = None, bin_size: int = 100_000,
              antitarget_avg_size: int = 100_000, antitarget_min_size: int | None = None,
              target_avg_size: int | None = None, exclude_beds: tuple = ()) -> dict:
    """Write target and antitarget BEDs (antitargets empty for whole-genome) and return counts.

    ``panel_bed`` None means whole-genome: targets are ~``bin_size`` bins over the accessible
    genome. ``target_avg_size``: split panel targets longer than this (None: keep as given)."""
    from cnvlib import access, antitarget, target
    from skgenome import tabio

    accessible = access.do_access(str(fasta), exclude_fnames=[str(p) for p in exclude_beds])
    if out_access:
        with atomic_path(out_access) as tmp:
            tabio.write(accessible, str(tmp), "bed3")
    genes = read_bed(genes_bed, 4) if genes_bed else None
    if panel_bed:
        baits = _garray(read_bed(panel_bed))
        targets = target.do_target(baits, do_split=bool(target_avg_size),
                                   avg_size=target_avg_size or 200 / 0.75)
        anti = antitarget.do_antitarget(targets, accessible, avg_bin_size=antitarget_avg_size,
                                        min_bin_size=antitarget_min_size)
    else:
        targets = target.do_target(accessible, do_split=True, avg_size=bin_size)
        anti = None
    tdata = targets.data.copy()
    tdata["gene"] = label_by_genes(tdata, genes)
    with atomic_path(out_targets) as tmp:
        tdata[["chromosome", "start", "end", "gene"]].to_csv(tmp, sep="\t", header=False,
                                                             index=False)
    n_anti = 0
    with atomic_path(out_antitargets) as tmp:
        if anti is not None and len(anti):
            adata = anti.data[["chromosome", "start", "end", "gene"]]
            adata.to_csv(tmp, sep="\t", header=False, index=False)
            n_anti = len(adata)
        else:
            Path(tmp).write_text("")
    return {"targets": len(tdata), "antitargets": n_anti}


@contextlib.contextmanager
def size_selected_bam(bam: str | os.PathLike, size_range: tuple[int, int]) -> Iterator[str]:
    """A temporary indexed BAM with only the reads of properly paired fragments whose template
    length (bp) is within ``size_range`` (inclusive)."""
    import pysam

    lo, hi = int(size_range[0]), int(size_range[1])
    with tempfile.TemporaryDirectory(prefix="plasmatrack-size-") as tmp:
        out = os.path.join(tmp, "selected.bam")
        kept = total = 0
        with pysam.AlignmentFile(str(bam), "rb") as src, \
                pysam.AlignmentFile(out, "wb", template=src) as dst:
            for read in src.fetch(until_eof=True):
                total += 1
                if (read.is_unmapped or read.is_secondary or read.is_supplementary
                        or not read.is_proper_pair):
                    continue
                if lo <= abs(read.template_length) <= hi:
                    dst.write(read)
                    kept += 1
        pysam.index(out)
        log.info("size selection %d-%d bp: kept %d of %d reads", lo, hi, kept, total)
        yield out


def bam_coverage(bam: str | os.PathLike, bed: str | os.PathLike, min_mapq: int = 20,
                 size_range: tuple[int, int] | None = None):
    """CNVkit coverage (a CopyNumArray: chromosome, start, end, gene, depth, log2) of ``bam`` in
    the bins of ``bed``; empty when the BED is empty (whole-genome antitargets)."""
    from cnvlib import coverage
    from cnvlib.cnary import CopyNumArray

    if not Path(bed).stat().st_size:
        return CopyNumArray.from_rows([], meta_dict={"sample_id": Path(bam).stem})
    if size_range:
        with size_selected_bam(bam, size_range) as selected:
            cnarr = coverage.do_coverage(str(bed), selected, min_mapq=min_mapq)
    else:
        cnarr = coverage.do_coverage(str(bed), str(bam), min_mapq=min_mapq)
    cnarr.meta["sample_id"] = Path(bam).name.removesuffix(".bam")
    return cnarr


def cnn_text(cnarr) -> str:
    """A CopyNumArray as the text of a CNVkit .cnn/.cnr file (CNVkit's writer: %.6g floats)."""
    import io

    from skgenome import tabio

    buffer = io.StringIO()
    tabio.write(cnarr, buffer)
    return buffer.getvalue()


def write_cnn(cnarr, path: str | os.PathLike, sample_id: str | None = None) -> None:
    """Write a CopyNumArray as a CNVkit .cnn/.cnr file, atomically."""
    if sample_id:
        cnarr.meta["sample_id"] = sample_id
    with atomic_open(path) as handle:
        handle.write(cnn_text(cnarr))


def sample_coverage(bam: str | os.PathLike, targets_bed: str | os.PathLike,
                    antitargets_bed: str | os.PathLike, out_target: str | os.PathLike,
                    out_antitarget: str | os.PathLike, sample_id: str, min_mapq: int = 20,
                    size_range: tuple[int, int] | None = None) -> None:
    """Target and antitarget coverage files (``.targetcoverage.cnn``,
    ``.antitargetcoverage.cnn``) of one BAM; with ``size_range`` the BAM is size-selected once."""
    if size_range:
        with size_selected_bam(bam, size_range) as selected:
            tgt = bam_coverage(selected, targets_bed, min_mapq)
            anti = bam_coverage(selected, antitargets_bed, min_mapq)
    else:
        tgt = bam_coverage(bam, targets_bed, min_mapq)
        anti = bam_coverage(bam, antitargets_bed, min_mapq)
    write_cnn(tgt, out_target, sample_id)
    write_cnn(anti, out_antitarget, sample_id)


def import_picard(path: str | os.PathLike):
    """A Picard CalculateHsMetrics per-target coverage table as a CNVkit CopyNumArray."""
    from cnvlib import importers

    if not Path(path).is_file():
        raise InputError(f"{path}: Picard coverage table not found")
    return importers.do_import_picard(str(path))
