"""HMMcopy / ichorCNA inputs: WIG read counts, GC and mappability tracks, panels of normals.

``readCounter`` (HMMcopy) writes one value per fixed-size bin in WIG ``fixedStep`` blocks; ichorCNA
users have such files for every sample plus GC and mappability WIGs of the same bins, and a panel
of normals (an R ``.rds`` GRanges with a ``Median`` log2 column). This module reads them and turns
read counts into GC- and mappability-corrected log2 copy ratios the way HMMcopy's
``correctReadcount`` does, so the tumour-fraction HMM can run without re-aligning anything.

Coordinates: WIG ``start`` is 1-based; tables here are 0-based half-open (``start = wig_start - 1``,
``end = start + span``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError

AUTOSOMES = [str(i) for i in range(1, 23)]


def chrom_key(name: str) -> str:
    """Chromosome name without a ``chr`` prefix (for matching files that disagree on it)."""
    return name[3:] if name.lower().startswith("chr") else name


def read_wig(path: str | os.PathLike, value_name: str = "value") -> pd.DataFrame:
    """Read a WIG file (``fixedStep`` or ``variableStep``) into chromosome, start, end, value.

    Missing values (``NA``, ``nan``) become NaN; a line that is neither a header nor a number raises
    InputError naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: WIG file not found")
    chroms, starts, ends, values = [], [], [], []
    mode, chrom, pos, step, span = None, None, 0, 0, 0
    with open(path) as handle:
        for lineno, line in enumerate(handle, start=1):
            line = line.strip()
            if not line or line.startswith(("#", "track", "browser")):
                continue
            if line.startswith(("fixedStep", "variableStep")):
                fields = dict(f.split("=", 1) for f in line.split()[1:] if "=" in f)
                mode = line.split()[0]
                try:
                    chrom = fields["chrom"]
                    span = int(fields.get("span", 1))
                    if mode == "fixedStep":
                        pos = int(fields["start"])
                        step = int(fields.get("step", span))
                        span = int(fields.get("span", step))
                except (KeyError, ValueError):
                    raise InputError(f"{path}, line {lineno}: bad WIG header {line!r}") from None
                continue
            if mode is None:
                raise InputError(f"{path}, line {lineno}: data before a fixedStep/variableStep "
                                 "line")
            parts = line.split()
            try:
                if mode == "fixedStep":
                    value = float(parts[0]) if parts[0].upper() != "NA" else np.nan
                    start = pos
                    pos += step
                else:
                    start = int(parts[0])
                    value = float(parts[1]) if parts[1].upper() != "NA" else np.nan
            except (ValueError, IndexError):
                raise InputError(f"{path}, line {lineno}: not a WIG value: {line!r}") from None
            chroms.append(chrom)
            starts.append(start - 1)
            ends.append(start - 1 + span)
            values.append(value)
    if not chroms:
        raise InputError(f"{path}: no values in the WIG file")
    return pd.DataFrame({"chromosome": chroms, "start": np.array(starts, dtype=np.int64),
                         "end": np.array(ends, dtype=np.int64), value_name: values})


def load_tracks(reads: str | os.PathLike, gc: str | os.PathLike, mappability: str | os.PathLike
                ) -> pd.DataFrame:
    """Reads, GC and mappability WIGs joined bin by bin (columns chromosome, start, end, reads,
    gc, map). Chromosome names follow the reads file; ``chr`` prefixes may differ between files.
    Bins of the reads file missing from a track raise InputError (wrong bin size or genome)."""
    table = read_wig(reads, "reads")
    table["key"] = table["chromosome"].map(chrom_key)
    for path, name in ((gc, "gc"), (mappability, "map")):
        track = read_wig(path, name)
        track["key"] = track["chromosome"].map(chrom_key)
        merged = table.merge(track[["key", "start", "end", name]], on=["key", "start", "end"],
                             how="left")
        shared = table["key"].isin(set(track["key"]))
        if not merged.loc[shared.to_numpy(), name].notna().any():
            raise InputError(f"{path}: its bins do not match the bins of {reads} "
                             "(different bin size or genome build?)")
        table = merged
    return table.drop(columns="key")


def _lowess(x: np.ndarray, y: np.ndarray, frac: float, at: np.ndarray) -> np.ndarray:
    """Locally linear smoother of y on x evaluated at ``at`` (linear interpolation between the
    fitted points, constant beyond them)."""
    from statsmodels.nonparametric.smoothers_lowess import lowess

    fit = lowess(y, x, frac=frac, it=3, return_sorted=True)
    xs, idx = np.unique(fit[:, 0], return_index=True)
    return np.interp(at, xs, fit[idx, 1])


def correct_readcounts(table: pd.DataFrame, min_mappability: float = 0.9,
                       sample_size: int = 50_000, seed: int = 0) -> pd.DataFrame:
    """GC then mappability correction of read counts, after HMMcopy's ``correctReadcount``.

    Adds columns valid, ideal, cor_gc, cor_map and log2 (log2 of the corrected count over its
    median; NaN for invalid bins). Valid bins have reads > 0 and a GC value; ideal bins (used to
    fit the curves) are valid, mappable (map >= ``min_mappability``) and not in the extreme 1% of
    counts or 0.1% of GC. GC: a local fit of reads on GC over the ideal bins (span 0.03), smoothed
    again along GC (span 0.3). Mappability: a local fit of the GC-corrected counts on
    mappability. When more than ``sample_size`` bins qualify, a subsample drawn with ``seed`` is
    used, so the result is reproducible."""
    out = table.copy()
    reads = out["reads"].to_numpy(float)
    gc = out["gc"].to_numpy(float)
    mapp = out["map"].to_numpy(float)
    valid = np.isfinite(reads) & (reads > 0) & np.isfinite(gc) & (gc >= 0)
    if valid.sum() < 50:
        raise InputError(f"only {int(valid.sum())} bins with reads and a GC value; need >= 50")
    lo_r, hi_r = np.quantile(reads[valid], [0.0, 0.99])
    lo_g, hi_g = np.quantile(gc[valid], [0.001, 0.999])
    ideal = (valid & np.isfinite(mapp) & (mapp >= min_mappability) & (reads > lo_r)
             & (reads <= hi_r) & (gc >= lo_g) & (gc <= hi_g))
    rng = np.random.default_rng(seed)
    chosen = np.flatnonzero(ideal)
    if len(chosen) > sample_size:
        chosen = np.sort(rng.choice(chosen, sample_size, replace=False))
    # HMMcopy predicts the rough fit on a 0.001 grid; outside the ideal bins' GC range loess has
    # no prediction, so the second fit only sees the range the data cover.
    lo_i, hi_i = gc[chosen].min(), gc[chosen].max()
    grid = np.arange(np.ceil(lo_i * 1000), np.floor(hi_i * 1000) + 1) / 1000.0
    rough = _lowess(gc[chosen], reads[chosen], 0.03, grid)
    smooth = _lowess(grid, rough, 0.3, gc)
    with np.errstate(divide="ignore", invalid="ignore"):
        cor_gc = np.where(valid & (smooth > 0), reads / smooth, np.nan)
    hi_c = np.nanquantile(cor_gc[valid], 0.99)
    sel = np.flatnonzero(valid & np.isfinite(mapp) & (cor_gc < hi_c))
    if len(sel) > sample_size:
        sel = np.sort(rng.choice(sel, sample_size, replace=False))
    map_curve = _lowess(mapp[sel], cor_gc[sel], 2.0 / 3.0, np.nan_to_num(mapp))
    with np.errstate(divide="ignore", invalid="ignore"):
        cor_map = np.where(np.isfinite(mapp) & (map_curve > 0), cor_gc / map_curve, np.nan)
        med = np.nanmedian(cor_map[valid & (cor_map > 0)])
        log2 = np.where(cor_map > 0, np.log2(cor_map / med), np.nan)
    out["valid"] = valid
    out["ideal"] = ideal
    out["cor_gc"] = cor_gc
    out["cor_map"] = cor_map
    out["log2"] = log2
    return out


# ----------------------------------------------------------------------------------------------
# Panels of normals

_RDS_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
x <- readRDS(args[1])
a <- attributes(x)
if (is.null(a$seqnames) || is.null(a$ranges) || is.null(a$elementMetadata)) {
  stop("not a GRanges panel of normals")
}
s <- a$seqnames
chrom <- rep(as.character(attr(s, "values")), attr(s, "lengths"))
start <- attr(a$ranges, "start")
width <- attr(a$ranges, "width")
md <- attr(a$elementMetadata, "listData")
keep <- names(md)[!(names(md) %in% c("gc", "map", "valid", "ideal", "cor.gc", "cor.map", "reads"))]
out <- data.frame(chromosome = chrom, start = start - 1, end = start - 1 + width,
                  md[keep], check.names = FALSE)
write.table(out, file = args[2], sep = "\t", quote = FALSE, row.names = FALSE, na = "")
"""


def read_normal_panel(path: str | os.PathLike, rscript: str = "Rscript") -> pd.DataFrame:
    """A panel of normals as chromosome, start, end (0-based), log2 (the panel's per-bin median
    log2 ratio) and, when the file has them, one column per healthy sample (``normal:<name>``).

    Accepts ichorCNA's ``.rds`` panels (read with ``Rscript`` through base R only: the GRanges'
    slots are taken apart without Bioconductor) and TSV panels with chromosome, start, end and
    log2 (or ``Median``) columns, e.g. those written by :func:`build_panel`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: panel of normals not found")
    if path.suffix.lower() == ".rds":
        if not shutil.which(rscript):
            raise InputError(f"{path}: reading an .rds panel needs Rscript on PATH; convert it "
                             "to TSV elsewhere or build a panel from WIG files (--normal-wig)")
        with tempfile.TemporaryDirectory() as tmp:
            script = Path(tmp) / "pon.R"
            out = Path(tmp) / "pon.tsv"
            script.write_text(_RDS_SCRIPT)
            proc = subprocess.run([rscript, "--vanilla", str(script), str(path), str(out)],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                raise InputError(f"{path}: could not read the .rds panel: "
                                 f"{proc.stderr.strip().splitlines()[-1:]}")
            table = pd.read_csv(out, sep="\t", dtype={"chromosome": str})
    else:
        table = pd.read_csv(path, sep="\t", dtype={"chromosome": str}, comment="#")
    if "log2" not in table and "Median" in table:
        table = table.rename(columns={"Median": "log2"})
    missing = {"chromosome", "start", "end", "log2"} - set(table.columns)
    if missing:
        raise InputError(f"{path}: panel of normals lacks columns {sorted(missing)}")
    extra = [c for c in table.columns if c not in ("chromosome", "start", "end", "log2")]
    table = table.rename(columns={c: c if c.startswith("normal:") else f"normal:{c}"
                                  for c in extra})
    return table


def build_panel(profiles: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """A panel of normals from corrected healthy profiles (name -> table from
    :func:`correct_readcounts`): per-bin median log2 plus each profile as ``normal:<name>``."""
    if not profiles:
        raise InputError("no healthy profiles to build a panel of normals from")
    names = sorted(profiles)
    base = profiles[names[0]][["chromosome", "start", "end"]].copy()
    for name in names:
        prof = profiles[name]
        same = len(prof) == len(base) and (prof["start"].to_numpy()
                                           == base["start"].to_numpy()).all()
        if not same:
            raise InputError(f"healthy profile {name}: bins differ from {names[0]}")
        base[f"normal:{name}"] = prof["log2"].to_numpy()
    cols = [f"normal:{n}" for n in names]
    values = base[cols].to_numpy(float)
    base["log2"] = np.nanmedian(values, axis=1) if len(cols) > 1 else values[:, 0]
    return base[["chromosome", "start", "end", "log2", *cols]]


def apply_panel(profile: pd.DataFrame, panel: pd.DataFrame, column: str = "log2") -> pd.DataFrame:
    """Subtract the panel's log2 from the profile's log2 bin by bin (bins matched on chromosome
    without ``chr`` prefix, start and end); bins absent from the panel, or NaN in it, become NaN
    (ichorCNA also drops them). The result is re-centred on its median."""
    key = panel.assign(key=panel["chromosome"].map(chrom_key))[["key", "start", "end", column]]
    out = profile.assign(key=profile["chromosome"].map(chrom_key)).merge(
        key.rename(columns={column: "_panel"}), on=["key", "start", "end"], how="left")
    out["log2"] = out["log2"] - out["_panel"]
    out["log2"] -= np.nanmedian(out["log2"])
    return out.drop(columns=["key", "_panel"])


def read_centromeres(path: str | os.PathLike) -> pd.DataFrame:
    """Centromere table (ichorCNA's UCSC gap table or a BED): chromosome, start, end."""
    table = pd.read_csv(path, sep="\t", comment="#", header=None, dtype={0: str})
    if not str(table.iloc[0, 1]).isdigit():
        table = table.iloc[1:]
    table = table.iloc[:, :3]
    table.columns = ["chromosome", "start", "end"]
    table["start"] = table["start"].astype(np.int64)
    table["end"] = table["end"].astype(np.int64)
    return table.reset_index(drop=True)


def mask_regions(profile: pd.DataFrame, regions: pd.DataFrame, flank: int = 0) -> np.ndarray:
    """Boolean mask of profile bins overlapping any region (+- ``flank`` bp)."""
    mask = np.zeros(len(profile), bool)
    keys = profile["chromosome"].map(chrom_key).to_numpy()
    starts = profile["start"].to_numpy()
    ends = profile["end"].to_numpy()
    for _, reg in regions.iterrows():
        sel = keys == chrom_key(str(reg["chromosome"]))
        mask |= sel & (ends > reg["start"] - flank) & (starts < reg["end"] + flank)
    return mask
