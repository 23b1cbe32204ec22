"""Assembling the report pages: one Jinja2 template, plotly.js embedded once per page.

Pages are self-contained and work offline (no CDN, no web fonts). Every value that reaches the
HTML goes through Jinja2's autoescape; figure JSON is produced by plotly, which escapes ``<``, ``>``
and ``/`` inside its script blocks, and user strings inside figures are escaped by
``plotting.esc``. Every plotted table is written as TSV into a folder beside the page
(``<page>_data/``) and linked under its figure. Pages are written atomically.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
import plotly.io as pio
import yaml
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from .. import __version__
from ..io import atomic_open, write_tsv
from ..units import DAYS_PER_MONTH
from .cohort_figures import burden_by_response, burden_waterfall, forest_plot, \
    fragment_length_profiles, km_plot, qc_metric_columns, qc_metrics, qc_passed, \
    qc_reason_column, relatedness_heatmap, swimmer_plot
from .patient_figures import HIDDEN_CATEGORIES, SUM_RULE_TOLERANCE, clone_fish_plot, \
    clone_labels, clone_tree, fish_layout, gene_copy_number_over_time, genome_copy_number, \
    treatment_timeline, tumour_fraction_over_time, vaf_trajectories
from . import umi_figures
from .mrd_figures import methods_sentence as mrd_methods_sentence
from .plotting import float_or_none
from ..io import as_bool
from .left_out import left_out_draws, left_out_warnings, without_left_out
from .sources import StageData
from .summary import flag, is_data_chosen, patient_sentences, patient_summary, study_sentences, \
    study_summary

MAX_CELL_CHARS = 120
PLOT_CONFIG = {"displaylogo": False, "responsive": True,
               "modeBarButtonsToRemove": ["select2d", "lasso2d"],
               "toImageButtonOptions": {"format": "svg"}}


@dataclass
class ReportSettings:
    """Options of the report stage (config section ``report``; see the schema)."""

    her2_gene: str = "ERBB2"
    pcn_threshold: float = 2.4
    tumour_cn_threshold: float | None = 6.0
    max_bins_per_draw: int = 3000
    max_individual_fragment_profiles: int = 40
    table_page_size: int = 50
    hidden_variant_categories: tuple[str, ...] = HIDDEN_CATEGORIES

    @classmethod
    def from_config(cls, config: dict | None) -> "ReportSettings":
        config = config or {}
        section = dict(config.get("report") or {})
        kwargs = {"her2_gene": config.get("her2_gene", "ERBB2")}
        for key in ("pcn_threshold", "tumour_cn_threshold", "max_bins_per_draw",
                    "max_individual_fragment_profiles", "table_page_size"):
            if key in section:
                kwargs[key] = section[key]
        if "hidden_variant_categories" in section:
            kwargs["hidden_variant_categories"] = tuple(section["hidden_variant_categories"])
        return cls(**kwargs)


# --------------------------------------------------------------------------------- building
@dataclass
class Page:
    """Sections of one page, and the tables to write beside it."""

    title: str
    html_path: Path
    nav: list[tuple[str, str]] = field(default_factory=list)
    sections: list[dict] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    _n_fig: int = 0
    _n_tab: int = 0

    @property
    def data_dir(self) -> Path:
        return self.html_path.with_name(self.html_path.stem + "_data")

    def section(self, sid: str, title: str) -> list[dict]:
        blocks: list[dict] = []
        self.sections.append({"id": sid, "title": title, "blocks": blocks})
        return blocks

    def _tsv(self, name: str | None, table: pd.DataFrame | None) -> str | None:
        if name is None or table is None:
            return None
        self.tables[name] = table
        return f"{self.data_dir.name}/{name}.tsv"

    def figure(self, blocks: list[dict], fig, caption: str, tsv_name: str | None = None,
               table: pd.DataFrame | None = None, missing: str = "") -> None:
        """Add a figure (or, when ``fig`` is None, a 'not available' note saying why)."""
        if fig is None:
            blocks.append({"kind": "note", "text": f"Not available: {missing}"})
            return
        self._n_fig += 1
        div = pio.to_html(fig, include_plotlyjs=False, full_html=False,
                          div_id=f"fig-{self._n_fig}", config=PLOT_CONFIG,
                          default_width="100%")
        blocks.append({"kind": "figure", "html": Markup(div), "caption": caption,
                       "tsv": self._tsv(tsv_name, table)})

    def table(self, blocks: list[dict], df: pd.DataFrame, caption: str = "",
              tsv_name: str | None = None, fail: pd.Series | None = None,
              links: dict[str, dict[str, str]] | None = None, page_size: int = 50,
              full: pd.DataFrame | None = None) -> None:
        """Add an HTML table of ``df`` (all cells escaped by the template); rows flagged in
        ``fail`` are highlighted; ``links`` maps column -> value -> href; long tables paginate.
        ``full`` (default ``df``) is what is written as TSV."""
        self._n_tab += 1
        rows = []
        fail_arr = np.zeros(len(df), bool) if fail is None else \
            pd.Series(fail).fillna(False).astype(bool).to_numpy()
        for (_, rec), bad in zip(df.iterrows(), fail_arr):
            cells = []
            for col in df.columns:
                value = rec[col]
                href = (links or {}).get(col, {}).get(value)
                text = _cell(value)
                tooltip = ""
                if len(text) > MAX_CELL_CHARS:  # the whole text stays in the tooltip and TSV
                    text, tooltip = text[:MAX_CELL_CHARS - 1] + "\u2026", text
                cells.append({"text": text, "title": tooltip, "href": href,
                              "wrap": len(text) > 40,
                              "num": isinstance(value, (int, float, np.number))
                              and not isinstance(value, bool)})
            rows.append({"cls": "fail" if bad else "", "cells": cells})
        blocks.append({"kind": "table", "id": f"table-{self._n_tab}", "columns": list(df.columns),
                       "rows": rows, "caption": caption, "paged": len(rows) > page_size,
                       "page_size": page_size,
                       "tsv": self._tsv(tsv_name, df if full is None else full)})

    def write(self) -> Path:
        """Write the TSVs, then the page (each atomically); stale TSVs of an earlier run go."""
        data_dir = self.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        for old in data_dir.glob("*.tsv"):
            if old.stem not in self.tables:
                old.unlink()
        for name, table in self.tables.items():
            write_tsv(table, data_dir / f"{name}.tsv")
        page = _template().render(title=self.title, nav=self.nav, sections=self.sections,
                                  plotlyjs=Markup(_plotlyjs()), version=__version__)
        with atomic_open(self.html_path) as handle:
            handle.write(page)
        return self.html_path


def _cell(value) -> str:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        if float(value).is_integer() and abs(value) < 1e9:
            return str(int(value))
        return f"{value:.4g}"
    return str(value)


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env.get_template("page.html.j2")


@lru_cache(maxsize=1)
def _plotlyjs() -> str:
    return get_plotlyjs()


# --------------------------------------------------------------------------------- patient page
def _draws(data: StageData, patient: str) -> pd.DataFrame:
    samples = data.samples()
    mine = samples[(samples["patient_id"] == patient)]
    return mine[mine["sample_type"] == "plasma"].sort_values("timepoint_days")


@dataclass(frozen=True)
class PatientView:
    """What every section of one patient's page draws on: the stage data, the patient's plasma
    draws (time order), clinical row and time to treatment failure (days; None when not given),
    and the patient's tumour-fraction rows."""

    data: StageData
    patient: str
    settings: ReportSettings
    draws: pd.DataFrame
    clinical: dict | None
    ttf_days: float | None
    ttf_event: int | None
    tf: pd.DataFrame | None
    # the patient's draws that failed identity -> reason; left out of the trajectories (issue 22)
    left_out: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, data: StageData, patient: str, settings: ReportSettings) -> "PatientView":
        clinical = data.clinical_row(patient)
        ttf_days = ttf_event = None
        if clinical and float_or_none(clinical.get("ttf_months")) is not None:
            ttf_days = float_or_none(clinical["ttf_months"]) * DAYS_PER_MONTH
            ttf_event = int(float_or_none(clinical.get("ttf_event")) or 0)
        left_out = left_out_draws(data.for_patient("qc_summary", patient))
        return cls(data, patient, settings, _draws(data, patient), clinical, ttf_days, ttf_event,
                   without_left_out(data.for_patient("tumour_fraction", patient), left_out),
                   left_out)

    def trajectory(self, name: str) -> pd.DataFrame | None:
        """The patient's rows of stage table ``name`` without the draws left out."""
        return without_left_out(self.data.for_patient(name, self.patient), self.left_out)


def build_patient_page(data: StageData, patient: str, out_html: os.PathLike | str,
                       settings: ReportSettings | None = None, cohort_href: str = "../cohort.html"
                       ) -> Path:
    """Write ``out_html`` (the patient's page) and its ``<name>_data/`` TSVs."""
    view = PatientView.build(data, patient, settings or ReportSettings())
    page = Page(title=f"plasmatrack: patient {patient}", html_path=Path(out_html),
                nav=[("cohort report", cohort_href)])
    for add_section in (_summary_section, _tumour_fraction_section, _gene_section,
                        _variants_section, _clones_section, _copy_number_section,
                        _patient_qc_section):
        add_section(page, view)
    return page.write()


def _summary_items(view: PatientView) -> list[tuple[str, str]]:
    """(label, value) rows of the patient summary: draws, clinical fields, baseline burden."""
    clinical, ttf_days, ttf_event = view.clinical, view.ttf_days, view.ttf_event
    items = [("patient", view.patient), ("plasma draws", str(len(view.draws)))]
    if clinical:
        for key, label in (("her2_status", "HER2 status"), ("cancer_type", "cancer type"),
                           ("best_response", "best response")):
            if _cell(clinical.get(key)):
                items.append((label, _cell(clinical.get(key))))
        if ttf_days is not None:
            items.append(("time to treatment failure",
                          f"{float_or_none(clinical['ttf_months']):.1f} months "
                          f"({'failure' if ttf_event == 1 else 'censored'})"))
        if float_or_none(clinical.get("os_months")) is not None:
            os_event = float_or_none(clinical.get("os_event"))
            items.append(("overall survival", f"{float_or_none(clinical['os_months']):.1f} months "
                          f"({'death' if os_event == 1 else 'censored'})"))
    burden = view.data.for_patient("her2_burden", view.patient)
    if burden is not None and not burden.empty:
        row = burden.iloc[0]
        items.append(("baseline HER2 burden", _cell(row["her2_burden"])
                      + (f" ({_cell(row['her2_burden_group'])})"
                         if "her2_burden_group" in row and _cell(row["her2_burden_group"])
                         else "")))
        if "baseline_sample_id" in row:
            items.append(("baseline draw", _cell(row["baseline_sample_id"])))
    return items


def _summary_section(page: Page, view: PatientView) -> None:
    blocks = page.section("summary", "Summary and treatment timeline")
    erbb2 = view.data.for_patient("erbb2", view.patient)
    if erbb2 is not None:
        erbb2 = erbb2[erbb2["gene"].astype(str) == view.settings.her2_gene]
    summary = patient_summary(view.clinical, view.data.for_patient("her2_burden", view.patient),
                              erbb2, view.tf)
    blocks.append({"kind": "sentences",
                   "items": patient_sentences(summary, view.settings.her2_gene)})
    blocks.append({"kind": "summary", "items": _summary_items(view)})
    if view.left_out:
        blocks.append({"kind": "warnings", "items": left_out_warnings(view.left_out)})
    if view.clinical is None:
        blocks.append({"kind": "note", "text": (
            "This patient has no clinical row (or the run has no clinical sheet): the patient is "
            "analysed but left out of the survival analyses; the timeline shows draws only.")})
    draws = view.draws
    timeline_rows = [{"event": "plasma draw", "sample_id": s, "day": d}
                     for s, d in zip(draws["sample_id"], draws["timepoint_days"])]
    if view.ttf_days is not None:
        timeline_rows.append({"event": "treatment failure" if view.ttf_event == 1
                              else "TTF censored", "sample_id": "",
                              "day": round(view.ttf_days, 1)})
    page.figure(blocks, treatment_timeline(view.patient, draws, view.clinical),
                "Plasma draws (days from treatment start), time on treatment to treatment failure "
                "(X) or censoring (arrow), coloured by best response; overall survival where "
                "given.", "timeline", pd.DataFrame(timeline_rows))


def _tumour_fraction_section(page: Page, view: PatientView) -> None:
    blocks = page.section("tumour-fraction", "Tumour fraction")
    tf = view.tf
    snv = view.trajectory("snv_tumour_fraction")
    tf_plot = tf.assign(tf_detected=as_bool(tf["tf_detected"])) if tf is not None else None
    mrd = view.trajectory("mrd_calls")
    fig = tumour_fraction_over_time(tf_plot, snv, view.ttf_days, view.ttf_event, mrd)
    if snv is not None:
        page.tables["snv_tumour_fraction"] = snv
    if mrd is not None:
        page.tables["mrd_calls"] = mrd
    disagree = tf_disagreements(tf) + left_out_warnings(view.left_out)
    if disagree:
        blocks.append({"kind": "warnings", "items": disagree})
    page.figure(blocks, fig,
                "Tumour fraction per plasma draw with 95% intervals: the combined estimate (open "
                "markers: not detected, p > alpha), and beside it each method's own estimate: "
                "genome-wide copy number (HMM), clonal somatic SNVs (about 2 x VAF) and, where "
                "the matched normal has heterozygous SNPs, allelic imbalance (BAF). Red stars: "
                "the residual-disease call pooling all of the patient's variants (filled: "
                "detected, open: not detected) with its LoD95 (red dotted). "
                "Dotted line: treatment failure.", "tumour_fraction", tf,
                missing=_why_missing(view.data, ["tumour_fraction", "snv_tumour_fraction"]))


def _gene_section(page: Page, view: PatientView) -> None:
    """The HER2 gene's (``settings.her2_gene``, ERBB2 by default) copy number over time."""
    settings, gene = view.settings, view.settings.her2_gene
    blocks = page.section("erbb2", f"{gene} copy number")
    erbb2 = view.data.for_patient("erbb2", view.patient)
    if erbb2 is not None:
        erbb2 = erbb2[erbb2["gene"] == gene].assign(amplified=lambda d: as_bool(d["amplified"]))
    page.figure(blocks, gene_copy_number_over_time(
                    erbb2, gene, settings.pcn_threshold, settings.tumour_cn_threshold,
                    view.ttf_days, view.ttf_event),
                f"{gene} plasma copy number (PCN; dashed: observed-copy threshold "
                f"{settings.pcn_threshold:g}) and TF-adjusted tumour copy number with 95% "
                "interval (dashed: tissue-style threshold); red: called amplified by the copy-"
                "number stage. Tumour copy number is not estimable when TF is about 0.",
                "erbb2", erbb2, missing=_why_missing(view.data, ["erbb2"], view.patient))


def _variants_section(page: Page, view: PatientView) -> None:
    blocks = page.section("variants", "Tracked variants")
    variants = view.trajectory("tracked_variants")
    if view.left_out:
        blocks.append({"kind": "warnings", "items": left_out_warnings(view.left_out)})
    page.figure(blocks, vaf_trajectories(variants, view.tf, view.ttf_days, view.ttf_event,
                                         view.settings.hidden_variant_categories),
                "VAF with 95% interval of every tracked variant in every plasma draw. Marker: "
                "filled = detected, open circle = not detected, open diamond = undetermined "
                "(too few informative fragments). Germline, CHIP and artifact variants and "
                "variants never detected in any draw are hidden: switch them on with the buttons "
                "or the legend. Log scale: zero VAFs are not drawn. Dashed: TF/2 from copy number.",
                "tracked_variants", variants,
                missing=_why_missing(view.data, ["tracked_variants"], view.patient))


def _clone_names(clusters: pd.DataFrame | None, tree: pd.DataFrame | None) -> dict[str, str]:
    """cluster_id -> label: the genes of each clone, or the clonal stage's own clone names
    ("PIK3CA H1047R", tree.tsv ``label``) where it gives them."""
    labels = clone_labels(clusters)
    if tree is not None and "label" in tree:
        for cid, label in zip(tree["cluster_id"].astype(str), tree["label"]):
            if _cell(label):
                labels[cid] = _cell(label)
    return labels


def _cluster_ids(prevalence: pd.DataFrame | None, tree: pd.DataFrame | None) -> list[str]:
    """The clones to draw in the tree: those with prevalences, else those of the tree."""
    if prevalence is not None and not prevalence.empty:
        return sorted(set(prevalence["cluster_id"].astype(str)))
    if tree is not None and not tree.empty:
        return sorted(set(tree["cluster_id"].astype(str)))
    return []


def _clone_tree_notes(blocks: list[dict], tree: pd.DataFrame | None) -> None:
    """The clonal stage's resolution warning and tree notes, before the clone figures."""
    limited = resolution_warning(tree)
    if limited:
        blocks.append({"kind": "warnings", "items": [limited]})
    if tree is not None and "note" in tree:
        for note in sorted({_cell(n) for n in tree["note"] if _cell(n)}):
            blocks.append({"kind": "note", "text": f"Clone tree: {note}"})


def _clones_section(page: Page, view: PatientView) -> None:
    data, patient = view.data, view.patient
    blocks = page.section("clones", "Clonal evolution")
    prevalence = data.for_patient("cluster_prevalence", patient)
    tree = data.for_patient("tree", patient)
    clusters = data.for_patient("variant_clusters", patient)
    labels = _clone_names(clusters, tree)
    _clone_tree_notes(blocks, tree)
    fish, scaled = clone_fish_plot(prevalence, tree, labels, view.ttf_days)
    bands = fish_layout(prevalence, tree)[0] if fish is not None else None
    if scaled:
        blocks.append({"kind": "note", "text": (
            "The clone prevalences violate the sum rule at some draw (children add up to more "
            f"than their parent by over {SUM_RULE_TOLERANCE:g}); the fish plot scales the "
            "children down to fit. See the clone tree notes of the clonal stage.")})
    page.figure(blocks, fish,
                "Clone prevalence (cancer cell fraction incl. descendants) over time: each clone "
                "is a band as wide as its prevalence, nested inside its parent.",
                "cluster_prevalence", prevalence,
                missing=_why_missing(data, ["cluster_prevalence"], patient))
    if bands is not None:
        page.tables["fish_bands"] = bands
    page.figure(blocks, clone_tree(tree, _cluster_ids(prevalence, tree), labels),
                "Clone tree (parent left of child), labelled with the genes of each clone.",
                "tree", tree if tree is not None and not tree.empty else None,
                missing=_why_missing(data, ["tree"], patient))
    if clusters is not None and not clusters.empty:
        page.tables["variant_clusters"] = clusters
    events = data.for_patient("events", patient)
    if events is not None and not events.empty:
        page.table(blocks, events.drop(columns=["patient_id"]), "Clonal events.", "events",
                   page_size=view.settings.table_page_size)


def _copy_number_draws(view: PatientView) -> tuple[list, list, list]:
    """Per draw with a .cnr: (sample_id, label, cnr, cns) for the figure, and the bins and
    segments (with sample_id) for the TSVs beside it."""
    cn_draws, bins_out, segs_out = [], [], []
    for sid, day in zip(view.draws["sample_id"], view.draws["timepoint_days"]):
        cnr = view.data.sample_file("cnr", sid)
        if cnr is None:
            continue
        cns = view.data.sample_file("cns", sid)
        label = f"{sid} (day {_cell(day)})"
        if view.tf is not None:
            row = view.tf[view.tf["sample_id"] == sid]
            if not row.empty:
                label += f", TF {row['tumour_fraction'].iloc[0]:.3f}"
        cn_draws.append((sid, label, cnr, cns))
        bins_out.append(cnr[[c for c in ("chromosome", "start", "end", "gene", "log2")
                             if c in cnr]].assign(sample_id=sid))
        if cns is not None:
            segs_out.append(cns[["chromosome", "start", "end", "log2"]].assign(sample_id=sid))
    return cn_draws, bins_out, segs_out


def _copy_number_section(page: Page, view: PatientView) -> None:
    settings, gene = view.settings, view.settings.her2_gene
    blocks = page.section("copy-number", "Genome-wide copy number")
    cn_draws, bins_out, segs_out = _copy_number_draws(view)
    fig = genome_copy_number(cn_draws, gene, view.data.gene_location(gene),
                             settings.max_bins_per_draw)
    page.figure(blocks, fig,
                f"Bin log2 ratios (grey; pooled to at most {settings.max_bins_per_draw} points "
                f"per draw), segments (orange) and {gene} (red, shaded) per draw.",
                "copy_number_segments", pd.concat(segs_out, ignore_index=True) if segs_out
                else None, missing=("no copy-number bins (.cnr) for this patient's draws "
                                    "(the copy-number stage has not run)"))
    if bins_out:
        page.tables["copy_number_bins"] = pd.concat(bins_out, ignore_index=True)


def _patient_qc_section(page: Page, view: PatientView) -> None:
    blocks = page.section("qc", "QC")
    qc = view.data.for_patient("qc_summary", view.patient)
    if qc is None or qc.empty:
        blocks.append({"kind": "note", "text": "Not available: " +
                       _why_missing(view.data, ["qc_summary"], view.patient)})
    else:
        shown, fail = qc_table(qc)
        page.table(blocks, shown, "QC per sample; failed samples highlighted with the reason.",
                   "qc", fail=fail, page_size=view.settings.table_page_size, full=qc)


def tf_disagreements(tf: pd.DataFrame | None) -> list[str]:
    """One warning per draw whose tumour-fraction methods disagree beyond their intervals (the
    combined table's ``warning`` names them), for the patient page."""
    if tf is None or "warning" not in tf or "sample_id" not in tf:
        return []
    out = []
    for sid, text in zip(tf["sample_id"], tf["warning"]):
        parts = [w.strip() for w in str(text).split(";") if "disagree" in w]
        if parts and str(text) != "nan":
            out.append(f"{sid}: " + "; ".join(parts) + " (the combined estimate widens to "
                       "hold both)")
    return out


def resolution_warning(tree: pd.DataFrame | None) -> str:
    """The warning for a patient the clonal stage calls "limited" (clonal_resolution in
    tree.tsv), or ""."""
    if tree is None or tree.empty or "clonal_resolution" not in tree:
        return ""
    if not (tree["clonal_resolution"].astype(str) == "limited").any():
        return ""
    delta = pd.to_numeric(tree["resolvable_ccf_difference"], errors="coerce").iloc[0]
    need = ("no difference in cancer cell fraction can be told apart at these depths and "
            "tumour fractions" if not np.isfinite(delta) else
            f"clones must differ by about {delta:.2f} in cancer cell fraction in every draw to "
            "be told apart")
    k = tree["cluster_id"].nunique()
    return (f"Limited clonal resolution: {need}. "
            + ("One cluster here does not mean one clone." if k == 1 else
               "Clones closer than that are merged."))


def _why_missing(data: StageData, names: list[str], patient: str | None = None) -> str:
    absent = [n for n in names if not data.has(n)]
    if absent:
        return ("this run has no " + ", ".join(absent) +
                " table (that stage has not run or is not part of this pipeline)")
    return f"no rows for patient {patient}" if patient else "no rows to plot"


def qc_table(qc: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The QC columns a reader needs first, and a pass/fail flag per row (True = failed)."""
    passed = qc_passed(qc)
    reason = qc_reason_column(qc)
    cols = [c for c in ("sample_id", "patient_id", "sample_type", "timepoint_days") if c in qc]
    shown = qc[cols].copy()
    shown["QC"] = passed.map({True: "pass", False: "FAIL"}).astype(object).fillna("")
    shown["reason"] = qc[reason].fillna("").astype(str) if reason else ""
    if "identity_ok" in qc:  # issue 22: each sample's identity verdict (docs/qc.md)
        shown["identity"] = as_bool(qc["identity_ok"]).map(
            {True: "ok", False: "FAIL"}).astype(object).fillna("")
        shown["best match"] = qc["best_match"].fillna("").astype(str) \
            if "best_match" in qc else ""
        shown["contamination"] = pd.to_numeric(qc.get("contamination"), errors="coerce")
    for col, _ in qc_metric_columns(qc):
        shown[col] = pd.to_numeric(qc[col], errors="coerce")
    return shown, (passed == False).fillna(False)  # noqa: E712 (nullable boolean)


# --------------------------------------------------------------------------------- cohort page
def _responses(data: StageData) -> pd.Series | None:
    clinical = data.clinical()
    if clinical is not None and "best_response" in clinical:
        return clinical.set_index("patient_id")["best_response"]
    return None


def build_cohort_page(data: StageData, out_html: os.PathLike | str,
                      settings: ReportSettings | None = None, patients_dir: str = "patients",
                      truth: os.PathLike | str | None = None) -> Path:
    """Write the cohort page ``out_html`` with links to ``<patients_dir>/<patient>.html``."""
    settings = settings or ReportSettings()
    page = Page(title="plasmatrack: cohort report", html_path=Path(out_html))
    _study_summary_section(page, data, settings)
    _overview_section(page, data)
    _cohort_qc_section(page, data, settings)
    _burden_section(page, data)
    _survival_section(page, data, settings)
    _swimmer_section(page, data)
    _dynamics_section(page, data, settings)
    _patients_section(page, data, settings, patients_dir)
    _methods_section(page, data, truth)
    return page.write()


def _study_summary_section(page: Page, data: StageData, settings: ReportSettings) -> None:
    """The study's answer first: sentences from the tables (plasmatrack.report.summary), each
    linking to its section and to the TSV beside the page it comes from."""
    blocks = page.section("summary", "Study summary")
    erbb2 = data.table("erbb2")
    if erbb2 is not None:
        erbb2 = erbb2[erbb2["gene"].astype(str) == settings.her2_gene]
    summary = study_summary(data.samples(), data.table("survival"), data.table("her2_burden"),
                            erbb2, data.table("tracked_variants"), data.table("dynamics"),
                            settings.her2_gene)
    # the TSVs the later sections write beside the page (same names)
    tsv = {name: f"{page.data_dir.name}/{name}.tsv" for name in
           ("patients", "her2_burden", "survival", "dynamics") if name == "patients"
           or data.table(name) is not None}
    blocks.append({"kind": "sentences", "items": study_sentences(summary, tsv)})


def _overview_items(data: StageData) -> list[tuple[str, str]]:
    """(label, value) rows of the cohort overview: counts of patients, draws, QC failures and
    patients with limited clonal resolution."""
    samples = data.samples()
    patients = data.patients()
    qc = data.table("qc_summary")
    n_plasma = int((samples["sample_type"] == "plasma").sum())
    items = [("patients", str(len(patients))), ("plasma draws", str(n_plasma)),
             ("normal samples", str(len(samples) - n_plasma))]
    if qc is not None:
        n_fail = int((qc_passed(qc) == False).fillna(False).sum())  # noqa: E712
        items.append(("samples failing QC", str(n_fail)))
    tree = data.table("tree")
    if tree is not None and "clonal_resolution" in tree and not tree.empty:
        calls = tree.drop_duplicates("patient_id")
        limited = sorted(calls.loc[calls["clonal_resolution"].astype(str) == "limited",
                                   "patient_id"].astype(str))
        items.append(("limited clonal resolution", f"{len(limited)} of {len(calls)} patients"
                      + (f" ({', '.join(limited)})" if limited else "")))
    return items


def _overview_section(page: Page, data: StageData) -> None:
    blocks = page.section("overview", "Overview")
    blocks.append({"kind": "summary", "items": _overview_items(data)})
    warnings = list(data.clinical_warnings())
    for name in ("tumour_fraction", "genes", "her2_burden"):
        df = data.table(name)
        if df is not None and "warning" in df:
            for w in sorted({str(x) for x in df["warning"].dropna() if str(x).strip()}):
                warnings.append(f"{name}: {w}")
    if warnings:
        blocks.append({"kind": "warnings", "items": warnings})
    absent = [n for n in ("qc_summary", "tumour_fraction", "erbb2", "tracked_variants",
                          "cluster_prevalence", "her2_burden", "survival", "km_curves")
              if not data.has(n)]
    if absent:
        blocks.append({"kind": "note", "text": "Not part of this run (sections below say what "
                       "they cannot show): " + ", ".join(absent) + "."})


def _cohort_qc_section(page: Page, data: StageData, settings: ReportSettings) -> None:
    blocks = page.section("qc", "QC of all samples")
    qc = data.table("qc_summary")
    left_out = left_out_draws(qc)  # issue 22: named in red before anything else
    if left_out:
        blocks.append({"kind": "warnings", "items": left_out_warnings(left_out)})
    profiles = {s: data.sample_file("fragment_lengths", s) for s in data.samples()["sample_id"]
                if s in data.sources.per_sample.get("fragment_lengths", {})}
    frag_fig = fragment_length_profiles(profiles, qc, settings.max_individual_fragment_profiles)
    frag_table = None
    if frag_fig is not None:
        parts = [df.assign(sample_id=s) for s, df in profiles.items() if df is not None]
        frag_table = pd.concat(parts, ignore_index=True)[["sample_id", "length", "count"]]
    page.figure(blocks, frag_fig,
                "Fragment-length distribution of every sample (fraction of fragments per bp; "
                "cfDNA peaks at 167 bp, tumour DNA is shorter). With more than "
                f"{settings.max_individual_fragment_profiles} samples: median and 10-90% band "
                "per sample type plus every failing sample.", "fragment_lengths", frag_table,
                missing="no fragment-length histograms (the QC stage has not run)")
    page.figure(blocks, qc_metrics(qc),
                "Key QC metrics per sample type; failing samples red (hover for the reason).",
                None, None, missing=_why_missing(data, ["qc_summary"]))
    if data.has("identity"):  # issue 22
        pairs = data.table("identity")
        page.figure(blocks, relatedness_heatmap(pairs),
                    "Relatedness of every pair of samples at the fingerprint SNPs (about 1: one "
                    "individual; 0 or below: unrelated). Each patient's samples should form one "
                    "block; a draw out of its block was swapped (docs/qc.md).", "identity",
                    pairs, missing="no sample pairs")
    if qc is not None and not qc.empty:
        shown, fail = qc_table(qc)
        order = np.argsort(~fail.to_numpy(), kind="stable")  # failures first
        page.table(blocks, shown.iloc[order], "All samples (failures first).", "qc_summary",
                   fail=fail.iloc[order], page_size=settings.table_page_size, full=qc)
    if data.has("umi_summary"):
        _cohort_umi_blocks(page, blocks, data, settings)


def _cohort_umi_blocks(page: Page, blocks: list[dict], data: StageData,
                       settings: ReportSettings) -> None:
    """Consensus QC (runs with UMIs only): family sizes, duplex yield, the metrics table."""
    summary = data.table("umi_summary")
    sizes = {s: data.sample_file("umi_family_sizes", s)
             for s in sorted(data.sources.per_sample.get("umi_family_sizes", {}))}
    size_table = None
    if sizes:
        size_table = pd.concat([df.assign(sample_id=s) for s, df in sizes.items()
                                if df is not None], ignore_index=True)
    page.figure(blocks, umi_figures.family_size_plot(sizes),
                "Consensus QC: reads per strand family (UMI family), fraction of families per "
                "size; singletons cannot be error-corrected.", "umi_family_sizes", size_table,
                missing="no family-size histograms (the umi stage has not run)")
    page.figure(blocks, umi_figures.duplex_yield_plot(summary),
                "Consensus QC: molecules per sample, those seen on both strands (duplex) and the "
                "duplex yield (duplex / molecules).", None, None,
                missing="no UMI summary rows")
    if summary is not None and not summary.empty:
        page.table(blocks, umi_figures.umi_table(summary),
                   "Consensus QC per sample: reads, strand families (>= 2, >= 3 reads), "
                   "molecules, duplex molecules and yield, error rate per base at reference "
                   "positions raw, after single-strand and after duplex consensus.",
                   "umi_summary", page_size=settings.table_page_size, full=summary)


def _response_test(survival: pd.DataFrame | None) -> dict | None:
    """The survival table's row testing burden against best response, for the figure title:
    the global test (Kruskal-Wallis) rather than a trend or pairwise one; None without one."""
    if survival is None:
        return None
    name = survival["analysis"].astype(str)
    hits = survival[name.str.contains("response", case=False) & survival["p_value"].notna()]
    if hits.empty:
        return None
    kw = hits[hits["analysis"].astype(str).str.contains("kruskal", case=False)]
    return (kw if not kw.empty else hits).iloc[0].to_dict()


def _burden_section(page: Page, data: StageData) -> None:
    blocks = page.section("burden", "Baseline HER2 burden")
    burden = data.table("her2_burden")
    responses = _responses(data)
    page.figure(blocks, burden_waterfall(burden, responses),
                "Baseline HER2 ctDNA burden per patient (high to low), coloured by best "
                "response.", "her2_burden", burden,
                missing=_why_missing(data, ["her2_burden"]))
    resp_fig = burden_by_response(burden, responses, _response_test(data.table("survival")))
    page.figure(blocks, resp_fig, "Baseline HER2 burden by best response (every patient a "
                "point).", None, None,
                missing=(_why_missing(data, ["her2_burden"]) if burden is None
                         else "no best_response in the clinical sheet"))


ENDPOINT_TITLES = {"ttf": "Time to treatment failure (primary endpoint)",
                   "os": "Overall survival"}


def survival_order(survival: pd.DataFrame | None, km: pd.DataFrame | None
                   ) -> list[tuple[str, list[str]]]:
    """(endpoint, analyses with KM curves) in reading order: TTF (the primary endpoint) first,
    then OS, then any other endpoint; within one, the primary analysis first, then the other
    pre-specified ones, then those with a cut chosen from the data (exploratory), each group in
    the survival table's order. Endpoints are lower-cased; a KM analysis the survival table does
    not list goes by km_curves' own ``endpoint`` (or 'other')."""
    rows = {} if survival is None else {
        str(r["analysis"]): r for r in survival.to_dict("records")}
    table_order = list(rows)
    analyses = [] if km is None or km.empty else list(dict.fromkeys(km["analysis"].astype(str)))
    km_endpoint = {} if km is None or "endpoint" not in km else dict(
        zip(km["analysis"].astype(str), km["endpoint"].astype(str)))
    by_endpoint: dict[str, list[str]] = {}
    for name in analyses:
        endpoint = rows[name]["endpoint"] if name in rows else km_endpoint.get(name, "other")
        by_endpoint.setdefault(str(endpoint).strip().lower(), []).append(name)
    for row in rows.values():  # endpoints with rows but no curves still get their section
        endpoint = str(row["endpoint"]).strip().lower()
        if endpoint in ENDPOINT_TITLES:
            by_endpoint.setdefault(endpoint, [])

    def rank(name: str) -> tuple:
        row = rows.get(name, {})
        primary = flag(row.get("primary"))
        position = table_order.index(name) if name in rows else len(rows)
        return (not primary, is_data_chosen(row), position, name)

    endpoints = [e for e in ENDPOINT_TITLES if e in by_endpoint] + sorted(
        e for e in by_endpoint if e not in ENDPOINT_TITLES)
    return [(e, sorted(by_endpoint[e], key=rank)) for e in endpoints]


def _km_figures(page: Page, blocks: list[dict], km: pd.DataFrame,
                survival: pd.DataFrame | None, analyses: list[str]) -> None:
    """One Kaplan-Meier figure per analysis, its test from survival.tsv; a cut chosen from the
    data is labelled exploratory."""
    for analysis in analyses:
        stats = None
        if survival is not None:
            rows = survival[survival["analysis"].astype(str) == analysis]
            stats = rows.iloc[0].to_dict() if not rows.empty else None
        chosen = stats is not None and is_data_chosen(stats)
        page.figure(blocks, km_plot(km, analysis, stats),
                    ("Exploratory: the cut-point was chosen from the data (maximally selected "
                     "log-rank statistic); the p-value is adjusted for that selection. "
                     if chosen else "") +
                    f"Kaplan-Meier estimate with 95% band for {analysis}; ticks mark "
                    "censoring; numbers at risk below; log-rank p and hazard ratio from the "
                    "survival table.", _safe_name(f"km_{analysis}"),
                    km[km["analysis"].astype(str) == analysis])


def _survival_section(page: Page, data: StageData, settings: ReportSettings) -> None:
    """One section per endpoint (TTF first), then every analysis (forest plot, table)."""
    km = data.table("km_curves")
    survival = data.table("survival")
    order = survival_order(survival, km)
    for endpoint, analyses in order:
        blocks = page.section(f"survival-{_safe_name(endpoint)}",
                              ENDPOINT_TITLES.get(endpoint, f"Survival: {endpoint}"))
        if analyses:
            _km_figures(page, blocks, km, survival, analyses)
        else:
            blocks.append({"kind": "note", "text": "Not available: no Kaplan-Meier curves "
                           f"for {endpoint} (see the survival table below)"})
    blocks = page.section("survival", "All survival analyses")
    if not order:
        blocks.append({"kind": "note", "text": "Not available: " +
                       (_why_missing(data, ["km_curves"]) if km is None else "no curves") +
                       (" (e.g. a run without clinical outcomes)" if data.clinical() is None
                        else "")})
    page.figure(blocks, forest_plot(survival),
                "Hazard ratios with 95% intervals of the Cox models (log scale).", None, None,
                missing=_why_missing(data, ["survival"]) if survival is None
                else "no analysis with an estimable hazard ratio (finite 95% interval)")
    if survival is not None and not survival.empty:
        page.table(blocks, survival, "All survival analyses. p_value_adjusted differs from "
                   "p_value only where the cut-point was chosen from the data (cut_selection "
                   "data-chosen: exploratory).", "survival",
                   page_size=settings.table_page_size)


def _swimmer_section(page: Page, data: StageData) -> None:
    blocks = page.section("swimmer", "Swimmer plot")
    clinical = data.clinical()
    samples = data.samples()
    plasma = samples[samples["sample_type"] == "plasma"]
    tf = data.table("tumour_fraction")
    tf_plot = tf.assign(tf_detected=as_bool(tf["tf_detected"])) if tf is not None else None
    page.figure(blocks, swimmer_plot(clinical, plasma, tf_plot, mrd=data.table("mrd_calls")),
                "Time to treatment failure per patient (bar colour: best response; X: failure; "
                "arrow: censored) with the plasma draws (filled: ctDNA detected by copy number; "
                "red stars: detected by the pooled residual-disease call, open: not).",
                "swimmer", clinical[[c for c in ("patient_id", "ttf_months", "ttf_event",
                                                 "best_response") if c in clinical]]
                if clinical is not None else None,
                missing="no clinical sheet with ttf_months in this run")


def _dynamics_section(page: Page, data: StageData, settings: ReportSettings) -> None:
    dynamics = data.table("dynamics")
    if dynamics is not None and not dynamics.empty:
        blocks = page.section("dynamics", "On-treatment dynamics")
        page.table(blocks, dynamics, "Change of tumour fraction and HER2 burden from baseline to "
                   "the first on-treatment draw.", "dynamics", page_size=settings.table_page_size)


def _patient_rows(data: StageData) -> pd.DataFrame:
    """One row per patient: draws, clinical fields, baseline TF and HER2 burden."""
    samples = data.samples()
    plasma = samples[samples["sample_type"] == "plasma"]
    burden = data.table("her2_burden")
    rows = []
    base_tf = {}
    if burden is not None and "tumour_fraction" in burden:
        base_tf = dict(zip(burden["patient_id"], burden["tumour_fraction"]))
    burden_of = dict(zip(burden["patient_id"], burden["her2_burden"])) if burden is not None \
        else {}
    for pid in data.patients():
        crow = data.clinical_row(pid) or {}
        rows.append({"patient": pid,
                     "plasma draws": int((plasma["patient_id"] == pid).sum()),
                     "HER2 status": crow.get("her2_status", ""),
                     "best response": crow.get("best_response", ""),
                     "TTF (months)": crow.get("ttf_months", ""),
                     "TTF event": crow.get("ttf_event", ""),
                     "baseline TF": base_tf.get(pid, ""),
                     "baseline HER2 burden": burden_of.get(pid, "")})
    return pd.DataFrame(rows)


def _patients_section(page: Page, data: StageData, settings: ReportSettings,
                      patients_dir: str) -> None:
    blocks = page.section("patients", "Patients")
    links = {"patient": {pid: f"{patients_dir}/{pid}.html" for pid in data.patients()}}
    page.table(blocks, _patient_rows(data), "One page per patient (click the ID).", "patients",
               links=links, page_size=settings.table_page_size)


def _methods_section(page: Page, data: StageData, truth: os.PathLike | str | None) -> None:
    """Methods text, tool versions, the simulator-truth comparison of demo runs, the config."""
    blocks = page.section("methods", "Methods and versions")
    blocks.append({"kind": "text", "text": (
        "Reads aligned with bwa mem (-Y) and duplicate-marked with samtools; cfDNA QC; copy "
        "number with CNVkit; tumour fraction combining a copy-number HMM with the allele "
        "fractions of clonal somatic SNVs (each method's estimate and p-value kept beside the "
        "combined one; a warning where they disagree); ERBB2 and other genes "
        "called from bin- and gene-level statistics against a panel of normals; variants "
        "tracked by pileup in every draw against a background error model; clones from a "
        "beta-binomial mixture of trajectories; HER2 burden and survival with lifelines. See "
        "docs/ of the plasmatrack repository for each stage's definitions."
        + segmentation_sentence(data.table("tumour_fraction"))
        + mrd_methods_sentence(data.table("mrd_calls")))})
    versions = tool_versions()
    page.table(blocks, pd.DataFrame(versions, columns=["tool", "version"]),
               "Versions of the tools of this run.", "versions", page_size=100)
    truth_dir = truth or data.sources.truth
    if truth_dir is not None and Path(truth_dir).is_dir():
        blocks.append({"kind": "note", "text": (
            "This cohort was simulated (plasmatrack simulate): the simulator's truth tables are "
            f"in {truth_dir}. The figures compare estimates against that truth below; on real "
            "data there is no such section.")})
        summary = truth_summary(Path(truth_dir), data)
        if not summary.empty:
            page.table(blocks, summary, "Estimates vs simulator truth.", "truth_comparison")
    if data.sources.config:
        blocks.append({"kind": "pre", "caption": "Configuration of this run (defaults filled in).",
                       "text": yaml.safe_dump(_plain(data.sources.config), sort_keys=True)})


def segmentation_sentence(tf: pd.DataFrame | None) -> str:
    """The methods' sentence naming the CNVkit segmentation that ran (``segment_method`` of
    ``tumour_fraction.tsv``), with sample counts when a run mixed methods."""
    if tf is None or "segment_method" not in tf:
        return ""
    counts = tf["segment_method"].dropna().astype(str).str.strip()
    counts = counts[counts != ""].value_counts()
    if counts.empty:
        return ""
    if len(counts) == 1:
        return f" Copy-number segments: CNVkit {counts.index[0]} (all {counts.iloc[0]} samples)."
    parts = ", ".join(f"{m} ({n} samples)" for m, n in counts.items())
    return f" Copy-number segments: CNVkit {parts}."


def _safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in text)[:80]


def _plain(obj):
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return str(obj)


_PACKAGES = ("snakemake", "cnvkit", "pysam", "pandas", "numpy", "scipy", "scikit-learn",
             "statsmodels", "lifelines", "plotly", "jinja2")
_PROGRAMS = (("bwa", []), ("samtools", ["--version"]), ("bcftools", ["--version"]),
             ("mosdepth", ["--version"]), ("Rscript", ["--version"]))


@lru_cache(maxsize=1)
def tool_versions() -> list[tuple[str, str]]:
    """(tool, version) of plasmatrack, its Python packages and the programs it runs."""
    out = [("plasmatrack", __version__)]
    for pkg in _PACKAGES:
        try:
            out.append((pkg, importlib.metadata.version(pkg)))
        except importlib.metadata.PackageNotFoundError:
            out.append((pkg, "not installed"))
    for prog, args in _PROGRAMS:
        exe = shutil.which(prog)
        if exe is None:
            out.append((prog, "not found"))
            continue
        try:
            proc = subprocess.run([exe, *args], capture_output=True, text=True, timeout=10,
                                  errors="replace", stdin=subprocess.DEVNULL)
            text = proc.stdout + proc.stderr
        except (OSError, subprocess.SubprocessError):
            out.append((prog, "unknown"))
            continue
        version = next((ln.split(":", 1)[1].strip() for ln in text.splitlines()
                        if ln.lower().startswith("version:")), None)
        if version is None:
            version = next((ln.strip() for ln in text.splitlines() if ln.strip()), "unknown")
        out.append((prog, version[:80]))
    return out


def truth_summary(truth: Path, data: StageData) -> pd.DataFrame:
    """Headline agreement of estimates with simulator truth (TF, ERBB2 PCN, HER2 burden)."""
    from scipy.stats import spearmanr

    from ..io import read_tsv

    rows = []
    ts = truth / "samples.tsv"
    if ts.is_file():
        t = read_tsv(ts)
        tf = data.table("tumour_fraction")
        if tf is not None and "tumour_fraction" in t:
            m = t.merge(tf, on="sample_id", suffixes=("_truth", ""))
            m = m[m["sample_type"] == "plasma"] if "sample_type" in m else m
            if not m.empty:
                err = (m["tumour_fraction"] - m["tumour_fraction_truth"]).abs()
                rows.append(("tumour fraction (copy number), plasma draws", len(m),
                             "mean absolute error", round(float(err.mean()), 4)))
        erbb2 = data.table("erbb2")
        if erbb2 is not None and "erbb2_plasma_copy_number" in t:
            m = t.merge(erbb2, on="sample_id")
            if not m.empty:
                err = (m["plasma_copy_number"] - m["erbb2_plasma_copy_number"]).abs()
                rows.append(("ERBB2 plasma copy number", len(m), "mean absolute error",
                             round(float(err.mean()), 3)))
    tp = truth / "patients.tsv"
    burden = data.table("her2_burden")
    if tp.is_file() and burden is not None:
        t = read_tsv(tp)
        if "baseline_her2_burden" in t:
            m = t.merge(burden, on="patient_id").dropna(subset=["baseline_her2_burden",
                                                                "her2_burden"])
            if len(m) >= 3:
                rho = spearmanr(m["baseline_her2_burden"], m["her2_burden"]).statistic
                rows.append(("baseline HER2 burden", len(m), "Spearman correlation",
                             round(float(rho), 3)))
    return pd.DataFrame(rows, columns=["quantity", "n", "measure", "value"])


# --------------------------------------------------------------------------------- everything
def build_reports(data: StageData, out_dir: os.PathLike | str,
                  settings: ReportSettings | None = None, patients: list[str] | None = None,
                  cohort: bool = True) -> list[Path]:
    """Write ``out_dir/cohort.html`` and ``out_dir/patients/<patient>.html`` (+ their TSVs)."""
    out_dir = Path(out_dir)
    written = []
    for pid in (patients if patients is not None else data.patients()):
        written.append(build_patient_page(data, pid, out_dir / "patients" / f"{pid}.html",
                                          settings))
    if cohort:
        written.append(build_cohort_page(data, out_dir / "cohort.html", settings))
    return written

