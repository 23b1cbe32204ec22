"""Per-sample QC: one pass over the BAM, then every metric and the pass/fail verdict.

Definitions (all read counts are records, as samtools flagstat counts them):
- total_reads: primary reads (not secondary, not supplementary), mapped or not;
- mapped_fraction = primary mapped / total_reads;
- properly_paired_fraction = primary mapped reads flagged proper pair / total_reads;
- duplicate_rate = primary reads flagged duplicate / total_reads;
- fragment statistics: see ``fragments.py``; histogram filters: see ``bampass.py``;
- with a panel (filters in ``bampass.py``): unique_fragments (a pair on one contig is one
  fragment, whether or not the aligner calls it proper), on_target_fraction = unique fragments
  overlapping a target by >= 1 bp / unique fragments, mean and median on-target depth = per-base
  depth of unique molecules (duplicates out, overlapping mates counted once, as mosdepth) over all
  target bases.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from .bampass import open_checked_bam, scan_bam, summarise_flags
from .checks import default_thresholds, evaluate
from .fragments import fragment_stats
from .targets import TargetDepth, load_panel

# Column order of <sample>.qc.tsv and qc_summary.tsv (later stages add columns, never rename).
QC_COLUMNS = [
    "sample_id", "patient_id", "sample_type", "timepoint_days",
    "total_reads", "mapped_reads", "mapped_fraction", "paired_reads", "properly_paired_reads",
    "properly_paired_fraction", "duplicate_reads", "duplicate_rate", "secondary_reads",
    "supplementary_reads", "qc_fail_reads",
    "fragments", "fragment_mode", "fragment_median", "fragment_mean", "fragment_sd",
    "short_fragments", "long_fragments", "short_long_ratio", "short_fraction", "periodicity_10bp",
    "fragments_over_max_length",
    "unique_fragments", "on_target_fragments", "on_target_fraction", "target_bases",
    "mean_on_target_depth", "median_on_target_depth",
    "qc_pass", "qc_reason",
]


def _ratio(num: int, den: int) -> float:
    return num / den if den else math.nan


def sample_qc(bam: str | Path, *, sample_id: str, patient_id: str = "",
              sample_type: str = "plasma", timepoint_days: int | None = None,
              panel: str | Path | None = None, thresholds: dict[str, Any] | None = None,
              threads: int = 1) -> tuple[dict[str, Any], np.ndarray]:
    """QC one coordinate-sorted, indexed BAM.

    Returns (row, hist): ``row`` maps every name in QC_COLUMNS to its value (NaN where not
    measurable; the panel columns are NaN without ``panel``); ``hist[L]`` counts fragments of L bp
    for L = 0..max_fragment_length (index 0 always 0). ``thresholds``: the config's ``qc`` section
    (schema defaults for missing keys). Raises InputError for a missing, unsorted or unindexed BAM
    or a panel BED that does not fit the BAM's contigs."""
    limits = {**default_thresholds(), **(thresholds or {})}
    with open_checked_bam(bam, threads=threads) as handle:
        depth = None
        if panel is not None:
            lengths = dict(zip(handle.references, handle.lengths))
            depth = TargetDepth(load_panel(panel, lengths), list(handle.references))
        counts = scan_bam(handle, int(limits["max_fragment_length"]),
                          int(limits["min_fragment_mapq"]),
                          span_sink=depth.add if depth is not None else None)
    flags = summarise_flags(counts.flag_counts)
    frag = fragment_stats(counts.fragment_hist)
    row: dict[str, Any] = {
        "sample_id": sample_id, "patient_id": patient_id, "sample_type": sample_type,
        "timepoint_days": timepoint_days,
        "total_reads": flags.primary_reads,
        "mapped_reads": flags.mapped_reads,
        "mapped_fraction": _ratio(flags.mapped_reads, flags.primary_reads),
        "paired_reads": flags.paired_reads,
        "properly_paired_reads": flags.properly_paired_reads,
        "properly_paired_fraction": _ratio(flags.properly_paired_reads, flags.primary_reads),
        "duplicate_reads": flags.duplicate_reads,
        "duplicate_rate": _ratio(flags.duplicate_reads, flags.primary_reads),
        "secondary_reads": flags.secondary_reads,
        "supplementary_reads": flags.supplementary_reads,
        "qc_fail_reads": flags.qc_fail_reads,
        **frag.as_dict(),
        "fragments_over_max_length": counts.fragments_over_limit,
    }
    if depth is not None:
        per_base = depth.depth()
        row.update({
            "unique_fragments": depth.fragments,
            "on_target_fragments": depth.on_target_fragments,
            "on_target_fraction": _ratio(depth.on_target_fragments, depth.fragments),
            "target_bases": depth.target_bases,
            "mean_on_target_depth": float(per_base.mean()) if len(per_base) else math.nan,
            "median_on_target_depth": float(np.median(per_base)) if len(per_base) else math.nan,
        })
    else:
        row.update({key: math.nan for key in (
            "unique_fragments", "on_target_fragments", "on_target_fraction", "target_bases",
            "mean_on_target_depth", "median_on_target_depth")})
    row["qc_pass"], row["qc_reason"] = evaluate(row, sample_type, depth is not None, limits)
    return {key: row[key] for key in QC_COLUMNS}, counts.fragment_hist
