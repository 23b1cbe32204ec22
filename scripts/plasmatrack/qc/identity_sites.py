"""Fingerprint sites found in the cohort's own reads when no site list is configured.

Each given BAM (the cohort's normals, or its plasma draws when there are no normals) is counted
base by base over the panel targets; a position becomes a site when at least one sample shows a
non-reference base in ``discovery_min_fraction`` of at least ``min_depth`` reads there: a germline
heterozygote or homozygote of someone in the cohort. The alt allele is the most frequent
non-reference base over all given samples. Sequencing errors and CHIP stay far below the
fraction; in plasma-only cohorts a clonal somatic SNV of a high tumour fraction draw can pass,
which is harmless: it is private to one patient, like a rare SNP."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..variants.sites import Reference
from .identity import IdentitySettings
from .targets import load_panel

BASES = "ACGT"
_SKIP_FLAGS = 0x4 | 0x100 | 0x200 | 0x400 | 0x800


def _coverage(bam, chrom: str, start: int, end: int, settings: IdentitySettings) -> np.ndarray:
    """(4, end - start) read counts of A, C, G, T passing the fingerprint's read filters."""
    def keep(read) -> bool:
        return not read.flag & _SKIP_FLAGS and read.mapping_quality >= settings.min_mapping_quality

    counts = bam.count_coverage(chrom, start, end, quality_threshold=settings.min_base_quality,
                                read_callback=keep)
    return np.array(counts, dtype=np.int64)


def _panel_counts(bam_path: Path, panel: pd.DataFrame, settings: IdentitySettings
                  ) -> list[np.ndarray]:
    import pysam

    try:
        bam = pysam.AlignmentFile(str(bam_path), "rb")
    except (OSError, ValueError) as exc:
        raise InputError(f"{bam_path}: cannot open as an indexed BAM ({exc})") from None
    with bam:
        return [_coverage(bam, t.chrom, int(t.start), int(t.end), settings)
                for t in panel.itertuples()]


def discover_sites(bams: list[Path], panel_bed: str | Path, reference: str | Path,
                   settings: IdentitySettings) -> pd.DataFrame:
    """Sites (chrom, pos 1-based, ref, alt, source) where some sample of ``bams`` carries a
    non-reference allele (module docstring); sorted as the panel."""
    with Reference(reference) as ref:
        panel = load_panel(panel_bed, ref.lengths)
        per_sample = [_panel_counts(b, panel, settings) for b in bams]
        rows = []
        for k, target in enumerate(panel.itertuples()):
            seq = ref.fetch(target.chrom, int(target.start), int(target.end)).upper()
            rows.extend(_target_sites(target.chrom, int(target.start), seq,
                                      [s[k] for s in per_sample], settings))
    return pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt", "source"])


def _target_sites(chrom: str, start: int, seq: str, counts: list[np.ndarray],
                  settings: IdentitySettings) -> list[tuple]:
    if not counts:
        return []
    stack = np.stack(counts)  # (samples, 4, length)
    ref_idx = np.array([BASES.find(b) for b in seq])
    valid = ref_idx >= 0
    depth = stack.sum(axis=1)
    nonref = stack.copy()
    nonref[:, ref_idx[valid], np.flatnonzero(valid)] = 0
    top = nonref.max(axis=1)  # best non-reference base per sample and position
    frac = np.divide(top, depth, out=np.zeros(depth.shape), where=depth > 0)
    hit = ((frac >= settings.discovery_min_fraction) & (depth >= settings.min_depth)).any(0)
    hit &= valid
    alt_idx = nonref.sum(axis=0).argmax(axis=0)
    return [(chrom, start + int(i) + 1, seq[i], BASES[alt_idx[i]], "discovered")
            for i in np.flatnonzero(hit)]
