"""``plasmatrack tumour-fraction``: the pipeline's per-sample files and cohort tables for one
HMMcopy WIG sample (ichorCNA's inputs), from its corrected, panel-normalised read counts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import write_tsv
from .call import CallSettings, SampleOutputs
from .coverage import read_bed
from .genes import gene_stats
from .pipeline import analyse_sample, fit_samples, samples_frame, split_patient, summarise
from .standalone import checked_id
from .summary import SummaryOutputs, SummarySettings
from .tumour_fraction import HmmSettings, fit_tumour_fraction

PANEL_LABEL = "ichorCNA-style panel of normals"
NO_PANEL_LABEL = "none (sample median)"
NO_PANEL_WARNING = "no panel of normals: ratios to the sample's median"


@dataclass(frozen=True)
class WigInputs:
    """The sample's read-count, GC and mappability WIGs (same bins); a panel of normals (ichorCNA
    ``.rds`` or TSV) and/or healthy-plasma WIGs to build one from; a centromere table to mask;
    the genes BED to call."""

    reads: str
    gc: str
    mappability: str
    normal_panel: str | None = None
    normal_wigs: tuple[str, ...] = ()
    centromere: str | None = None
    genes_bed: str | None = None


@dataclass(frozen=True)
class WigSettings:
    """Command-line choices of ``plasmatrack tumour-fraction`` (no config section): chromosomes
    analysed (default autosomes), minimum mappability, segmentation, whether detection is
    calibrated on the panel's healthy profiles, and whether to plot."""

    chromosomes: tuple[str, ...] | None = None
    min_mappability: float = 0.9
    segment_method: str = "haar"
    calibrate_on_panel: bool = False
    plot: bool = True


def run_wig(inputs: WigInputs, out_dir: str | os.PathLike, sample_id: str | None = None,
            patient_id: str | None = None, settings: WigSettings = WigSettings(),
            summary: SummarySettings = SummarySettings(), hmm: HmmSettings | None = None
            ) -> pd.DataFrame:
    """Write the sample's files and tables into ``out_dir``; return the tumour-fraction table
    (the sample's row, then any calibration normals)."""
    from . import wig

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sid = checked_id(sample_id or Path(inputs.reads).name.split(".")[0], "sample ID")
    pid = checked_id(patient_id or sid, "patient ID")
    hmm = hmm or HmmSettings()
    panel = _normal_panel(inputs, settings, out)
    centromeres = wig.read_centromeres(inputs.centromere) if inputs.centromere else None
    profile = wig_profile(inputs, panel, centromeres, settings)
    genes = read_bed(inputs.genes_bed, 4) if inputs.genes_bed else None
    _fit_sample(_wig_cnr(profile, genes), sid, out, inputs, settings, hmm, panel is not None)
    rows = [{"sample_id": sid, "patient_id": pid, "sample_type": "plasma",
             "timepoint_days": None}]
    fit_paths = {sid: str(out / f"{sid}.tf.tsv")}
    stat_paths = {sid: str(out / f"{sid}.gene_stats.tsv")}
    tumour_free = []
    if settings.calibrate_on_panel and panel is not None:
        tumour_free = _write_calibration_normals(panel, inputs, centromeres, settings, genes,
                                                 hmm, out)
        for nid in tumour_free:
            rows.append({"sample_id": nid, "patient_id": "panel_of_normals",
                         "sample_type": "normal", "timepoint_days": None})
            fit_paths[nid] = str(out / "calibration" / f"{nid}.tf.tsv")
            stat_paths[nid] = str(out / "calibration" / f"{nid}.gene_stats.tsv")
    tf_table, _ = summarise(samples_frame(rows), fit_paths, stat_paths, tumour_free, summary,
                            SummaryOutputs.in_folder(out))
    if settings.plot:
        from .plot import plot_sample

        plot_sample(tf_table, sid, out / f"{sid}.hmm_states.tsv", out / f"{sid}.cnv.png")
    return tf_table


def _normal_panel(inputs: WigInputs, settings: WigSettings, out: Path) -> pd.DataFrame | None:
    """The given panel of normals, else one built from the normal WIGs (written to
    ``normal_panel.tsv`` for reuse), else None."""
    from . import wig

    panel = None
    if inputs.normal_panel:
        panel = wig.read_normal_panel(inputs.normal_panel)
    if inputs.normal_wigs:
        profiles = {Path(p).name.split(".")[0]: wig.correct_readcounts(
            wig.load_tracks(p, inputs.gc, inputs.mappability), settings.min_mappability)
            for p in inputs.normal_wigs}
        built = wig.build_panel(profiles)
        panel = built if panel is None else panel
        if inputs.normal_panel is None:
            write_tsv(built, out / "normal_panel.tsv")
    return panel


def wig_profile(inputs: WigInputs, panel: pd.DataFrame | None, centromeres: pd.DataFrame | None,
                settings: WigSettings, seed: int = 0) -> pd.DataFrame:
    """Corrected, panel-normalised bins of one WIG sample, filtered as ichorCNA filters them
    (valid, mappable, outside centromeres, on the analysed chromosomes)."""
    from . import wig

    table = wig.correct_readcounts(wig.load_tracks(inputs.reads, inputs.gc, inputs.mappability),
                                   settings.min_mappability, seed=seed)
    if panel is not None:
        table = wig.apply_panel(table, panel)
    keys = table["chromosome"].map(wig.chrom_key)
    wanted = [wig.chrom_key(c) for c in (settings.chromosomes or wig.AUTOSOMES)]
    keep = (keys.isin(wanted) & table["valid"] & (table["map"] >= settings.min_mappability)
            & np.isfinite(table["log2"].to_numpy(float)))
    if centromeres is not None:
        keep &= ~wig.mask_regions(table, centromeres)
    out = table.loc[keep].reset_index(drop=True)
    if out.empty:
        raise InputError(f"{inputs.reads}: no usable bins after filtering (chromosome names "
                         f"{sorted(set(keys))[:5]}..., wanted {wanted[:3]}...)")
    out["log2"] -= np.median(out["log2"])
    return out


def _wig_cnr(profile: pd.DataFrame, genes: pd.DataFrame | None) -> pd.DataFrame:
    """The profile's bins in ``.cnr`` columns (the read count as depth, equal weights)."""
    from .coverage import label_by_genes

    return pd.DataFrame({
        "chromosome": profile["chromosome"], "start": profile["start"], "end": profile["end"],
        "gene": label_by_genes(profile, genes), "log2": profile["log2"],
        "depth": profile["reads"], "weight": 1.0,
    })


def _fit_sample(cnr: pd.DataFrame, sid: str, out: Path, inputs: WigInputs,
                settings: WigSettings, hmm: HmmSettings, has_panel: bool) -> None:
    """The sample's ``.cnr``, segments, gene statistics, HMM fit and state path."""
    files = SampleOutputs.beside(out / sid)
    write_tsv(cnr, files.cnr)
    info = analyse_sample(cnr, sid, files, inputs.genes_bed,
                          CallSettings(segment_method=settings.segment_method),
                          PANEL_LABEL if has_panel else NO_PANEL_LABEL,
                          "" if has_panel else NO_PANEL_WARNING)
    fit_path, long_states = out / f"{sid}.tf.tsv", out / f"{sid}.hmm_states_long.tsv"
    fit_samples({sid: cnr}, {sid: info}, [sid], [], hmm, "hmm:wig", fit_path, long_states)
    split_patient(fit_path, long_states, sid, fit_path, out / f"{sid}.hmm_states.tsv")
    long_states.unlink()


def _write_calibration_normals(panel: pd.DataFrame, inputs: WigInputs, centromeres,
                               settings: WigSettings, genes, hmm: HmmSettings, out: Path
                               ) -> list[str]:
    """Fit and gene-statistics files (``calibration/normal_<i>.*``) of the panel's healthy
    profiles, each left out of the panel; returns their IDs."""
    normal_cols = [c for c in panel.columns if c.startswith("normal:")]
    if len(normal_cols) < 3:
        raise InputError(f"{inputs.normal_panel or 'panel'}: calibration needs >= 3 normal "
                         f"profiles in the panel, found {len(normal_cols)}")
    ids = []
    for name, fit_row, stats in _panel_normals(panel, normal_cols, centromeres,
                                                settings.chromosomes, genes, hmm):
        nid = f"normal_{len(ids) + 1}"
        write_tsv(pd.DataFrame([{**fit_row, "sample_id": nid, "reference": name}]),
                  out / "calibration" / f"{nid}.tf.tsv")
        write_tsv(stats.assign(sample_id=nid), out / "calibration" / f"{nid}.gene_stats.tsv")
        ids.append(nid)
    return ids


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
