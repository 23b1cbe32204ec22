"""Reference FASTA and BED checks: contig names and lengths, BED intervals within contigs.

Coordinates: BED files are 0-based half-open; contig lengths in bases."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .errors import InputError, where
from .io import atomic_open


def contig_lengths(fasta: str | Path) -> dict[str, int]:
    """Contig name -> length (bases). Uses ``<fasta>.fai`` when present, else scans the FASTA."""
    fasta = Path(fasta)
    if not fasta.is_file():
        raise InputError(f"{fasta}: reference FASTA not found")
    fai = Path(str(fasta) + ".fai")
    lengths: dict[str, int] = {}
    if fai.is_file() and fai.stat().st_mtime >= fasta.stat().st_mtime:
        with open(fai) as handle:
            for line in handle:
                fields = line.rstrip("\n").split("\t")
                lengths[fields[0]] = int(fields[1])
        return lengths
    name = None
    with open(fasta, "rb") as handle:
        for raw in handle:
            if raw.startswith(b">"):
                name = raw[1:].split()[0].decode() if raw[1:].split() else ""
                if not name:
                    raise InputError(f"{fasta}: a FASTA header line has no sequence name")
                if name in lengths:
                    raise InputError(f"{fasta}: contig {name!r} appears twice")
                lengths[name] = 0
            elif name is None:
                if raw.strip():
                    raise InputError(f"{fasta}: not a FASTA file (no '>' header before sequence)")
            else:
                lengths[name] += len(raw.rstrip())
    if not lengths:
        raise InputError(f"{fasta}: no sequences in the reference FASTA")
    return lengths


def read_bed(path: str | Path, contigs: dict[str, int], kind: str,
             need_name: bool = False) -> pd.DataFrame:
    """Read a BED (chrom, start, end[, name, ...]) and check it against the reference contigs.

    Raises InputError naming file, row and column for a contig not in the reference, an interval
    past the contig end, start >= end, or non-integer coordinates. Returns a DataFrame sorted by
    reference contig order, then start."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: {kind} BED not found")
    problems: list[str] = []
    rows = []
    with open(path, encoding="utf-8-sig") as handle:
        for lineno, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.split("\t")
            if len(fields) < (4 if need_name else 3):
                problems.append(
                    f"{where(path, lineno)}: needs {'4' if need_name else '3'} tab-separated "
                    f"columns (chrom, start, end{', name' if need_name else ''}), found {len(fields)}"
                )
                continue
            chrom = fields[0].strip()
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                problems.append(f"{where(path, lineno, 'start/end')}: coordinates must be integers")
                continue
            if chrom not in contigs:
                hint = ""
                alt = chrom[3:] if chrom.startswith("chr") else "chr" + chrom
                if alt in contigs:
                    hint = f" (the reference names it {alt!r}: chr-prefix mismatch)"
                problems.append(
                    f"{where(path, lineno, 'chrom')}: contig {chrom!r} is not in the reference{hint}"
                )
                continue
            if start < 0 or start >= end:
                problems.append(f"{where(path, lineno, 'start')}: start {start} must be >= 0 and < end {end}")
                continue
            if end > contigs[chrom]:
                problems.append(
                    f"{where(path, lineno, 'end')}: end {end} is past the end of {chrom} "
                    f"({contigs[chrom]} bp)"
                )
                continue
            name = fields[3].strip() if len(fields) > 3 else ""
            rows.append((chrom, start, end, name))
        if len(problems) > 20:
            problems = problems[:20] + [f"... and {len(problems) - 20} more problems in {path}"]
    if problems:
        raise InputError(problems)
    if not rows:
        raise InputError(f"{path}: the {kind} BED has no intervals")
    order = {c: i for i, c in enumerate(contigs)}
    bed = pd.DataFrame(rows, columns=["chrom", "start", "end", "name"])
    bed["_o"] = bed["chrom"].map(order)
    return bed.sort_values(["_o", "start", "end"]).drop(columns="_o").reset_index(drop=True)


def merge_overlaps(bed: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Merge overlapping intervals of a sorted BED (names joined with ','); returns (bed, merges)."""
    out: list[list] = []
    merges = 0
    for chrom, start, end, name in bed[["chrom", "start", "end", "name"]].itertuples(index=False):
        if out and out[-1][0] == chrom and start < out[-1][2]:
            out[-1][2] = max(out[-1][2], end)
            if name and name not in out[-1][3].split(","):
                out[-1][3] = f"{out[-1][3]},{name}" if out[-1][3] else name
            merges += 1
        else:
            out.append([chrom, start, end, name])
    return pd.DataFrame(out, columns=["chrom", "start", "end", "name"]), merges


def write_bed(bed: pd.DataFrame, path: str | Path, with_name: bool = True) -> None:
    cols = ["chrom", "start", "end"] + (["name"] if with_name else [])
    with atomic_open(path) as handle:
        bed[cols].to_csv(handle, sep="\t", header=False, index=False)


def prepare_beds(fasta: str | Path, genes: str | Path, her2_gene: str,
                 panel: str | Path | None, genes_out: str | Path,
                 panel_out: str | Path | None) -> list[str]:
    """Validate the genes BED (and panel BED) against the reference and write sorted copies.

    Overlapping panel targets are merged (CNVkit needs disjoint targets); the returned warnings
    say how many. Raises InputError when ``her2_gene`` is not named in the genes BED."""
    contigs = contig_lengths(fasta)
    warnings: list[str] = []
    genes_bed = read_bed(genes, contigs, "genes", need_name=True)
    if her2_gene not in set(genes_bed["name"]):
        raise InputError(
            f"{genes}: column 'name': the HER2 gene {her2_gene!r} (config key her2_gene) is not in "
            "the genes BED"
        )
    write_bed(genes_bed, genes_out)
    if panel is not None and panel_out is not None:
        panel_bed = read_bed(panel, contigs, "panel")
        merged, merges = merge_overlaps(panel_bed)
        if merges:
            warnings.append(f"{panel}: {merges} overlapping target(s) merged")
        write_bed(merged, panel_out)
    return warnings


def link_or_copy(src: str | Path, dst: str | Path) -> None:
    """Place the reference FASTA under results/ (a symlink; the user's folder is never written)."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".tmp")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(Path(src).resolve(), tmp)
    os.replace(tmp, dst)
