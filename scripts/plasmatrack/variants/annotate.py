"""Annotation of variant sites: gene, exon and protein change.

Genes come from the validated genes BED (chrom, start, end, name; 0-based half-open), exons from
an optional exons BED (chrom, start, end, gene, exon_number[, strand]), protein changes from the
hotspot TSV (chrom, pos, ref, alt, gene, protein_change; 1-based pos, matched after indel
normalisation). A variant's annotated position is its first changed reference base: ``pos`` for
SNVs and insertions (the anchor), ``pos + 1`` for deletions (the first deleted base)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, where
from .sites import Reference, read_sites, site_id


def read_bed_table(path: str | Path, names: list[str], min_columns: int) -> pd.DataFrame:
    """A BED-like table with the given column names (extra columns ignored)."""
    rows = []
    with open(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n\r").split("\t")
            if len(fields) < min_columns:
                raise InputError(f"{where(path, lineno)}: expected at least {min_columns} "
                                 f"tab-separated columns ({', '.join(names[:min_columns])})")
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                raise InputError(f"{where(path, lineno)}: start/end must be integers") from None
            row = dict(zip(names, fields))
            row["start"], row["end"] = start, end
            rows.append(row)
    return pd.DataFrame(rows, columns=names)


def exons_path(configured: str | None, genes_bed: str | Path) -> str | None:
    """The exons BED to use: the configured one, else ``exons.bed`` beside the genes BED."""
    if configured:
        if not Path(configured).is_file():
            raise InputError(f"config: key 'variants.exons': file {configured} not found")
        return str(configured)
    beside = Path(genes_bed).with_name("exons.bed")
    return str(beside) if beside.is_file() else None


def read_hotspots(path: str | Path | None, reference: Reference | None) -> pd.DataFrame:
    """Hotspot table (chrom, pos, ref, alt, gene, protein_change), indels normalised."""
    cols = ["chrom", "pos", "ref", "alt", "variant_type", "gene", "protein_change"]
    if not path:
        return pd.DataFrame(columns=cols)
    table, _warnings = read_sites(path, reference)
    for col in ("gene", "protein_change"):
        if col not in table.columns:
            raise InputError(f"{path}: missing column {col!r} (need chrom, pos, ref, alt, gene, "
                             "protein_change)")
    return table[cols].drop_duplicates(subset=["chrom", "pos", "ref", "alt"]).reset_index(drop=True)


def _overlaps(table: pd.DataFrame, chrom: str, pos0: int) -> pd.DataFrame:
    sub = table[table["chrom"] == chrom]
    return sub[(sub["start"].to_numpy() <= pos0) & (pos0 < sub["end"].to_numpy())]


def annotate_sites(sites: pd.DataFrame, genes_bed: str | Path, exons_bed: str | Path | None,
                   hotspots: pd.DataFrame | None) -> pd.DataFrame:
    """Add ``gene``, ``exon`` and ``protein_change`` columns (empty strings when unknown)."""
    genes = read_bed_table(genes_bed, ["chrom", "start", "end", "name"], 4)
    exon_columns = ["chrom", "start", "end", "gene", "exon_number", "strand"]
    exons = (read_bed_table(exons_bed, exon_columns, 5) if exons_bed
             else pd.DataFrame(columns=exon_columns))
    protein = {}
    hotspot_gene = {}
    if hotspots is not None and len(hotspots):
        for row in hotspots.itertuples(index=False):
            key = site_id(row.chrom, int(row.pos), row.ref, row.alt)
            protein[key] = str(row.protein_change or "")
            hotspot_gene[key] = str(row.gene or "")
    gene_col, exon_col, protein_col = [], [], []
    for row in sites.itertuples(index=False):
        pos0 = int(row.pos) - 1
        if len(row.ref) > len(row.alt):
            pos0 += 1
        hit_genes = list(dict.fromkeys(_overlaps(genes, row.chrom, pos0)["name"].astype(str)))
        key = site_id(row.chrom, int(row.pos), row.ref, row.alt)
        if not hit_genes and hotspot_gene.get(key):
            hit_genes = [hotspot_gene[key]]
        hit_exons = _overlaps(exons, row.chrom, pos0)
        if hit_genes:
            hit_exons = hit_exons[hit_exons["gene"].astype(str).isin(hit_genes)]
        exon_labels = list(dict.fromkeys(str(e) for e in hit_exons["exon_number"]))
        gene_col.append(",".join(hit_genes))
        exon_col.append(",".join(exon_labels))
        protein_col.append(protein.get(key, ""))
    out = sites.copy()
    out["gene"] = gene_col
    out["exon"] = exon_col
    out["protein_change"] = protein_col
    return out


def in_regions(sites: pd.DataFrame, regions: list[tuple[str, int, int]]) -> np.ndarray:
    """Whether each site's position lies inside one of the (merged) regions."""
    result = np.zeros(len(sites), dtype=bool)
    by_chrom: dict[str, list[tuple[int, int]]] = {}
    for chrom, start, end in regions:
        by_chrom.setdefault(chrom, []).append((start, end))
    for i, row in enumerate(sites.itertuples(index=False)):
        pos0 = int(row.pos) - 1
        result[i] = any(s <= pos0 < e for s, e in by_chrom.get(row.chrom, ()))
    return result
