"""Segmentation of bin-level copy ratios with CNVkit and export to SEG.

The default is CNVkit's ``haar`` (Haar-wavelet segmentation, pure Python, the method CNVkit's own
regression case is held to), so that a run gives the same segments on every machine. ``cbs``
(DNAcopy circular binary segmentation) is an opt-in that needs ``Rscript`` with DNAcopy and fails
with a clear message without it; nothing falls back silently. The method that ran is recorded in
the sample's info table and ``tumour_fraction.tsv`` (``segment_method``) so a report can say so."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess

import numpy as np
import pandas as pd

from ..errors import InputError
from . import DEFAULT_SEGMENT_METHOD, SEGMENT_METHODS
from ..io import atomic_open

log = logging.getLogger(__name__)

METHODS = SEGMENT_METHODS
DEFAULT_METHOD = DEFAULT_SEGMENT_METHOD
CNR_COLUMNS = ["chromosome", "start", "end", "gene", "log2", "depth", "weight"]


@functools.lru_cache(maxsize=None)
def dnacopy_available(rscript: str = "Rscript") -> bool:
    """True when ``rscript`` runs and can load the DNAcopy package."""
    if not shutil.which(rscript):
        return False
    proc = subprocess.run([rscript, "--vanilla", "-e", "suppressMessages(library(DNAcopy))"],
                          capture_output=True, text=True)
    return proc.returncode == 0


def resolve_method(method: str, rscript: str = "Rscript") -> str:
    """``method``, checked: it must be one of ``METHODS`` and, for ``cbs``, runnable here."""
    if method == "auto":
        # 'auto' (cbs where R happened to be installed, else haar) made results depend on the
        # machine; it was removed rather than kept as an alias that hides which method ran.
        raise InputError("segmentation method 'auto' was removed: it chose cbs or haar by what "
                         "was installed; set 'haar' (the default) or 'cbs' (needs R + DNAcopy)")
    if method not in METHODS:
        raise InputError(f"segmentation method {method!r}: choose one of {', '.join(METHODS)}")
    if method == "cbs" and not dnacopy_available(rscript):
        raise InputError("segmentation method 'cbs' needs Rscript with the DNAcopy package "
                         "(Debian: r-base-core r-bioc-dnacopy); install them or use 'haar'")
    return method


def to_cnarray(table: pd.DataFrame, sample_id: str):
    """A CNVkit CopyNumArray from a bin table (chromosome, start, end, gene, log2, ...)."""
    from cnvlib.cnary import CopyNumArray

    data = table.copy()
    if "gene" not in data:
        data["gene"] = "-"
    return CopyNumArray(data.reset_index(drop=True), {"sample_id": sample_id})


def segment_bins(cnr: pd.DataFrame, sample_id: str, method: str = DEFAULT_METHOD,
                 threshold: float | None = None, rscript: str = "Rscript") -> pd.DataFrame:
    """Segments (CNVkit ``.cns`` columns: chromosome, start, end, gene, log2, depth, probes,
    weight; 0-based half-open) for a ``.cnr``-like table. ``threshold``: CNVkit's significance
    threshold (None = CNVkit's default for the method)."""
    from cnvlib import segmentation

    resolved = resolve_method(method, rscript)
    cnarr = to_cnarray(cnr, sample_id)
    if "weight" not in cnarr:
        cnarr["weight"] = 1.0
    segments = segmentation.do_segmentation(cnarr, resolved, threshold=threshold,
                                            rscript_path=rscript)
    table = repair_overlaps(segments.data.copy(), cnr)
    table.attrs["method"] = resolved
    log.info("%s: segmented with CNVkit %s", sample_id, resolved)
    return table


def repair_overlaps(segments: pd.DataFrame, bins: pd.DataFrame) -> pd.DataFrame:
    """Segments sorted by chromosome and end, each starting at the first bin after the previous
    segment's end. CNVkit 0.9.14's ``haar`` occasionally returns a segment whose start is that of
    an earlier segment (on CNVkit's own regression sample: chr1 464,423-16,721,015 for the
    16-bin segment that starts at 13,801,713), so segments overlap; ends are right."""
    if segments.empty:
        return segments
    order = {c: i for i, c in enumerate(pd.unique(bins["chromosome"].astype(str)))}
    segments = segments.assign(_o=segments["chromosome"].astype(str).map(order))
    segments = segments.sort_values(["_o", "end"], kind="stable").drop(columns="_o")
    segments = segments.reset_index(drop=True)
    starts = segments["start"].to_numpy().copy()
    for chrom, idx in segments.groupby("chromosome", sort=False).groups.items():
        idx = list(idx)
        bin_starts = bins.loc[bins["chromosome"].astype(str) == str(chrom), "start"].to_numpy()
        bin_starts.sort()
        ends = segments.loc[idx, "end"].to_numpy()
        for j in range(1, len(idx)):
            if starts[idx[j]] < ends[j - 1]:
                nxt = bin_starts[np.searchsorted(bin_starts, ends[j - 1], side="left"):]
                starts[idx[j]] = nxt[0] if len(nxt) else ends[j - 1]
    segments["start"] = starts
    return segments


def write_seg(segments: pd.DataFrame, sample_id: str, path: str | os.PathLike) -> None:
    """Write segments as SEG (IGV / GISTIC: ID, chrom, loc.start (1-based), loc.end, num.mark,
    seg.mean (log2)), as CNVkit's ``export seg`` does."""
    from skgenome.tabio import seg

    table = seg.write_seg(segments.reset_index(drop=True), sample_id, chrom_ids=False)
    with atomic_open(path) as handle:
        table.to_csv(handle, sep="\t", index=False, float_format="%.6g")
