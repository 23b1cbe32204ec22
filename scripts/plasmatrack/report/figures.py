"""Report figures: pure functions from stage tables to plotly figures.

Nothing here reads or writes files. Each function takes the rows it plots (already restricted to a
patient where that applies) and returns a ``plotly.graph_objects.Figure``, or None when there is
nothing to draw. Every user-supplied string that reaches a figure (gene names, protein changes,
responses, labels) goes through :func:`esc`, because plotly renders a subset of HTML in text.

Units: time in days from treatment start on per-patient plots (clinical months are converted with
DAYS_PER_MONTH), months on cohort survival plots; fractions (TF, VAF, prevalence) as fractions
0-1; genomic positions 0-based (CNVkit bins, BED).
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..sheets import BEST_RESPONSES
from ..units import DAYS_PER_MONTH, nice_step

RESPONSE_ORDER = [*BEST_RESPONSES, "unknown"]  # the sheet's categories, then a missing response
RESPONSE_COLOURS = {"CR": "#1a7837", "PR": "#5aae61", "SD": "#e0a526", "PD": "#c2185b",
                    "NE": "#9e9e9e", "unknown": "#cfcfcf"}
STATUS_SYMBOLS = {"detected": "circle", "not_detected": "circle-open",
                  "undetermined": "diamond-open"}
CATEGORY_ORDER = ["somatic", "germline", "chip", "artifact"]
# Categories a reader rarely wants first: drawn but hidden until clicked in the legend.
HIDDEN_CATEGORIES = ("germline", "chip", "artifact")
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39"]
_FONT = dict(family="Helvetica, Arial, sans-serif", size=12)  # system fonts only (offline)


def esc(value) -> str:
    """A string for plotly text: HTML-escaped, so plotly's pseudo-HTML (<a href>, <b>, ...) in a
    user's gene name or label is shown as text, never interpreted. Quotes become numeric
    entities because plotly decodes only numeric and a few named entities (not &quot;)."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    return html.escape(str(value), quote=False).replace('"', "&#34;").replace("'", "&#39;")


def _num(value) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(out) else out


# A small white template: plotly's built-in ones are large, and copying them into every figure
# is most of the time a page takes to build.
_AXIS = dict(gridcolor="#ebf0f8", zerolinecolor="#ebf0f8", linecolor="#cfd8dc", ticks="",
             automargin=True)
_TEMPLATE = go.layout.Template(layout=dict(
    plot_bgcolor="white", paper_bgcolor="white", colorway=PALETTE, xaxis=_AXIS, yaxis=_AXIS,
    hoverlabel=dict(align="left")))


def _layout(fig: go.Figure, title: str, height: int = 380, **kwargs) -> go.Figure:
    margin = {**dict(l=70, r=30, t=60, b=50), **kwargs.pop("margin", {})}
    fig.update_layout(title=dict(text=title, x=0.01, xanchor="left"), height=height,
                      template=_TEMPLATE, font=_FONT, margin=margin,
                      legend=dict(groupclick="toggleitem"), **kwargs)
    return fig


def _ttf_line(fig: go.Figure, ttf_days: float | None, event: int | None, **kwargs) -> None:
    if ttf_days is None:
        return
    label = "treatment failure" if event == 1 else "TTF censored"
    fig.add_vline(x=ttf_days, line=dict(color="#c2185b", dash="dot", width=1.5),
                  annotation_text=label, annotation_position="top left",
                  annotation_font_size=10, **kwargs)


def _errors(values: pd.Series, lower: pd.Series, upper: pd.Series) -> dict:
    """Asymmetric error bars from interval bounds (missing bounds -> no bar)."""
    plus = (upper - values).clip(lower=0).fillna(0).to_numpy()
    minus = (values - lower).clip(lower=0).fillna(0).to_numpy()
    return dict(type="data", symmetric=False, array=plus, arrayminus=minus, thickness=1.2,
                width=4)


# ------------------------------------------------------------------------------ per patient
def treatment_timeline(patient: str, draws: pd.DataFrame, clinical: Mapping | None) -> go.Figure:
    """Treatment timeline: plasma draws (days), treatment span to TTF with its event or
    censoring, OS end point where given, best response in the title.

    draws: sample_id, timepoint_days (plasma rows of one patient)."""
    fig = go.Figure()
    ttf_days = os_days = None
    response = "not given"
    if clinical:
        months = _num(clinical.get("ttf_months"))
        ttf_days = None if months is None else months * DAYS_PER_MONTH
        os_m = _num(clinical.get("os_months"))
        os_days = None if os_m is None else os_m * DAYS_PER_MONTH
        response = esc(clinical.get("best_response")) or "not given"
    if ttf_days is not None:
        event = _num(clinical.get("ttf_event"))
        fig.add_trace(go.Scatter(
            x=[0, ttf_days], y=["treatment", "treatment"], mode="lines",
            line=dict(color=RESPONSE_COLOURS.get(response, "#607d8b"), width=14),
            name=f"on treatment (best response {response})",
            hovertemplate="day %{x:.0f}<extra>on treatment</extra>"))
        fig.add_trace(go.Scatter(
            x=[ttf_days], y=["treatment"], mode="markers",
            marker=dict(symbol="x" if event == 1 else "triangle-right", size=16,
                        color="#c2185b" if event == 1 else "#455a64",
                        line=dict(width=1, color="white")),
            name="treatment failure" if event == 1 else "censored (no failure yet)",
            hovertemplate=("TTF %{customdata:.1f} months (day %{x:.0f})<extra></extra>"),
            customdata=[ttf_days / DAYS_PER_MONTH]))
    if os_days is not None:
        os_event = _num(clinical.get("os_event"))
        fig.add_trace(go.Scatter(
            x=[os_days], y=["survival"], mode="markers",
            marker=dict(symbol="square" if os_event == 1 else "triangle-right-open", size=12,
                        color="#212121"),
            name="death" if os_event == 1 else "alive at last follow-up",
            hovertemplate="OS %{customdata:.1f} months<extra></extra>",
            customdata=[os_days / DAYS_PER_MONTH]))
    if not draws.empty:
        fig.add_trace(go.Scatter(
            x=draws["timepoint_days"], y=["plasma draws"] * len(draws), mode="markers+text",
            marker=dict(symbol="triangle-down", size=14, color="#1f77b4"),
            text=[esc(s) for s in draws["sample_id"]],
            # alternate label sides so draws a few days apart stay readable
            textposition=["top center" if i % 2 == 0 else "bottom center"
                          for i in range(len(draws))],
            textfont=dict(size=10), name="plasma draw",
            hovertemplate="%{text}: day %{x}<extra></extra>"))
    fig.add_vline(x=0, line=dict(color="#455a64", width=1))
    fig.update_yaxes(categoryorder="array",
                     categoryarray=["survival", "treatment", "plasma draws"])
    fig.update_xaxes(title_text="days from treatment start")
    return _layout(fig, f"Treatment timeline: best response {response}", height=280)


def tumour_fraction_over_time(tf_cn: pd.DataFrame | None, tf_snv: pd.DataFrame | None,
                              ttf_days: float | None = None,
                              ttf_event: int | None = None) -> go.Figure | None:
    """Tumour fraction per draw with 95% intervals: the published (combined) estimate, filled
    when detected and open when not, and beside it each method's own estimate (copy number and
    BAF from tumour_fraction.tsv's per-method columns, SNVs from snv_tumour_fraction.tsv).
    Inputs are one patient's rows of those tables; either may be None."""
    fig = go.Figure()
    if tf_cn is not None and not tf_cn.empty:
        df = tf_cn.sort_values("timepoint_days")
        detected = df["tf_detected"].fillna(False).astype(bool).to_numpy() \
            if "tf_detected" in df else np.ones(len(df), bool)
        combined = "tf_method" in df
        name = "TF, combined" if combined else "TF from copy number"
        fig.add_trace(go.Scatter(
            x=df["timepoint_days"], y=df["tumour_fraction"], mode="lines+markers",
            name=f"{name} (filled: detected)",
            error_y=_errors(df["tumour_fraction"], df["tf_lower"], df["tf_upper"]),
            marker=dict(size=10, color="#1f77b4",
                        symbol=["circle" if d else "circle-open" for d in detected]),
            line=dict(color="#1f77b4"), text=[esc(s) for s in df["sample_id"]],
            hovertemplate="%{text}, day %{x}<br>TF %{y:.3f}<extra>" + name + "</extra>"))
        for method, label, color in (("cn", "copy number", "#2ca02c"), ("baf", "BAF", "#9467bd")):
            cols = [f"tumour_fraction_{method}", f"tf_{method}_lower", f"tf_{method}_upper"]
            if not combined or not set(cols) <= set(df) or df[cols[0]].isna().all():
                continue
            fig.add_trace(go.Scatter(
                x=df["timepoint_days"], y=df[cols[0]], mode="markers",
                name=f"TF from {label} (estimate whatever its own call)",
                error_y=_errors(df[cols[0]], df[cols[1]], df[cols[2]]),
                marker=dict(size=8, color=color, symbol="diamond"),
                text=[esc(s) for s in df["sample_id"]],
                hovertemplate="%{text}, day %{x}<br>TF %{y:.3f}<extra>" + label + "</extra>"))
    if tf_snv is not None and not tf_snv.empty:
        df = tf_snv.sort_values("timepoint_days")
        fig.add_trace(go.Scatter(
            x=df["timepoint_days"], y=df["tumour_fraction_snv"], mode="lines+markers",
            name="TF from SNVs",
            error_y=_errors(df["tumour_fraction_snv"], df["tf_snv_lower"], df["tf_snv_upper"]),
            marker=dict(size=9, color="#ff7f0e", symbol="square"),
            line=dict(color="#ff7f0e", dash="dash"),
            text=[f"{esc(s)} ({_fmt_int(n)} SNVs)" for s, n in
                  zip(df["sample_id"], df["n_variants"])],
            hovertemplate="%{text}, day %{x}<br>TF %{y:.3f}<extra>SNVs</extra>"))
    if not fig.data:
        return None
    _ttf_line(fig, ttf_days, ttf_event)
    fig.update_xaxes(title_text="days from treatment start")
    fig.update_yaxes(title_text="tumour fraction", tickformat=".0%", rangemode="tozero")
    return _layout(fig, "Tumour fraction over time (95% intervals)")


def _fmt_int(value) -> str:
    v = _num(value)
    return "?" if v is None else str(int(v))


def gene_copy_number_over_time(gene_rows: pd.DataFrame, gene: str, pcn_threshold: float = 2.4,
                               tumour_cn_threshold: float | None = 6.0,
                               ttf_days: float | None = None,
                               ttf_event: int | None = None) -> go.Figure | None:
    """ERBB2 (or any gene) plasma copy number and TF-adjusted tumour copy number per draw.

    gene_rows: one patient's rows of erbb2.tsv. Plasma copy number with the observed-copy
    threshold (PCN >= ``pcn_threshold``, HERACLES-A style); tumour copy number with its 95%
    interval where estimable, and the tissue-style threshold. Amplified draws are red."""
    if gene_rows is None or gene_rows.empty:
        return None
    df = gene_rows.sort_values("timepoint_days")
    amplified = df["amplified"].fillna(False).astype(bool).to_numpy() \
        if "amplified" in df else np.zeros(len(df), bool)
    colours = ["#c2185b" if a else "#1f77b4" for a in amplified]
    name = esc(gene)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=(f"{name} plasma copy number",
                                        f"{name} tumour copy number (TF-adjusted)"))
    text = [f"{esc(s)}{' (amplified)' if a else ''}" for s, a in zip(df["sample_id"], amplified)]
    fig.add_trace(go.Scatter(
        x=df["timepoint_days"], y=df["plasma_copy_number"], mode="lines+markers",
        marker=dict(size=10, color=colours), line=dict(color="#90a4ae"), text=text,
        name="plasma copy number (red: amplified)",
        hovertemplate="%{text}, day %{x}<br>PCN %{y:.2f}<extra></extra>"), row=1, col=1)
    fig.add_hline(y=pcn_threshold, line=dict(color="#c2185b", dash="dash", width=1), row=1,
                  col=1, annotation_text=f"PCN {pcn_threshold:g}", annotation_font_size=10)
    fig.add_hline(y=2, line=dict(color="#9e9e9e", dash="dot", width=1), row=1, col=1)
    est = df[df["tumour_copy_number"].notna()]
    if not est.empty:
        est_amp = est["amplified"].fillna(False).astype(bool) if "amplified" in est \
            else pd.Series(False, index=est.index)
        fig.add_trace(go.Scatter(
            x=est["timepoint_days"], y=est["tumour_copy_number"], mode="lines+markers",
            marker=dict(size=10, color=["#c2185b" if a else "#1f77b4" for a in est_amp]),
            line=dict(color="#90a4ae"),
            error_y=_errors(est["tumour_copy_number"], est["tumour_copy_number_lower"],
                            est["tumour_copy_number_upper"]),
            text=[esc(s) for s in est["sample_id"]], name="tumour copy number",
            hovertemplate="%{text}, day %{x}<br>tumour CN %{y:.1f}<extra></extra>"),
            row=2, col=1)
        if tumour_cn_threshold is not None:
            fig.add_hline(y=tumour_cn_threshold, line=dict(color="#c2185b", dash="dash",
                                                           width=1), row=2, col=1,
                          annotation_text=f"CN {tumour_cn_threshold:g}",
                          annotation_font_size=10)
    missing = df[df["tumour_copy_number"].isna()]
    if not missing.empty:
        fig.add_trace(go.Scatter(
            x=missing["timepoint_days"], y=[2] * len(missing), mode="markers",
            marker=dict(symbol="x-thin-open", size=10, color="#9e9e9e",
                        line=dict(width=2, color="#9e9e9e")),
            text=[esc(s) for s in missing["sample_id"]],
            name="tumour CN not estimable (TF ~ 0)",
            hovertemplate="%{text}, day %{x}: not estimable<extra></extra>"), row=2, col=1)
    _ttf_line(fig, ttf_days, ttf_event, row="all", col=1)
    fig.update_xaxes(title_text="days from treatment start", row=2, col=1)
    fig.update_yaxes(title_text="copies", rangemode="tozero")
    return _layout(fig, f"{name} copy number over time", height=560)


def variant_label(row: Mapping) -> str:
    """'GENE protein_change' when known, else 'GENE chrom:pos ref>alt' (pos 1-based)."""
    gene = row.get("gene")
    gene = "" if gene is None or (isinstance(gene, float) and math.isnan(gene)) else str(gene)
    change = row.get("protein_change")
    if isinstance(change, str) and change and change != "nan":
        return f"{gene} {change}".strip()
    return f"{gene} {row['chrom']}:{int(row['pos'])} {row['ref']}>{row['alt']}".strip()


def vaf_trajectories(variants: pd.DataFrame, tf_cn: pd.DataFrame | None = None,
                     ttf_days: float | None = None, ttf_event: int | None = None,
                     hidden_categories=HIDDEN_CATEGORIES) -> go.Figure | None:
    """VAF of every tracked variant across one patient's plasma draws.

    One line per variant with its 95% interval; marker by status (filled = detected, open circle
    = not detected, open diamond = undetermined); gene label at the last draw; germline, CHIP and
    artifact variants, and variants never detected in any draw, drawn but hidden until switched
    on (legend click or the buttons); a linear/log y-axis switch. TF/2 from copy number is drawn for reference (the VAF of a clonal
    heterozygous copy-neutral SNV). variants: one patient's rows of tracked_variants.tsv."""
    if variants is None or variants.empty:
        return None
    df = variants[variants["sample_type"].fillna("plasma") == "plasma"].copy()
    if df.empty:
        return None
    df["category"] = df["category"].fillna("unclassified").astype(str)
    df = df.sort_values(["timepoint_days"])
    keys = ["chrom", "pos", "ref", "alt"]
    order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    groups = sorted(df.groupby(keys, sort=False),
                    key=lambda kv: (order.get(kv[1]["category"].iloc[0], 9),
                                    str(kv[1]["gene"].iloc[0]), kv[0][0], kv[0][1]))
    fig = go.Figure()
    visible_somatic = []
    colour_i = 0
    for _, g in groups:
        first = g.iloc[0]
        category = first["category"]
        label = esc(variant_label(first))
        # force-tracked sites (hotspots, known variants) never seen in plasma would bury the
        # story in zeros: drawn but hidden like germline/CHIP
        never = not (g["status"].astype(str) == "detected").any()
        hidden = category in hidden_categories or never
        if never and category not in hidden_categories:
            label += " (never detected)"
        colour = "#9e9e9e" if hidden else PALETTE[colour_i % len(PALETTE)]
        colour_i += 0 if hidden else 1
        status = g["status"].fillna("undetermined").astype(str)
        text = [""] * (len(g) - 1) + [label]
        fig.add_trace(go.Scatter(
            x=g["timepoint_days"], y=g["vaf"], mode="lines+markers+text", name=label,
            legendgroup=esc(category), legendgrouptitle_text=esc(category),
            visible="legendonly" if hidden else True,
            line=dict(color=colour, width=1.5, dash="dot" if hidden else "solid"),
            marker=dict(size=9, color=colour,
                        symbol=[STATUS_SYMBOLS.get(s, "diamond-open") for s in status],
                        line=dict(width=1.5, color=colour)),
            error_y=_errors(g["vaf"], g["vaf_lower"], g["vaf_upper"]),
            text=text, textposition="middle right", textfont=dict(size=10, color=colour),
            customdata=np.column_stack([[esc(s) for s in g["sample_id"]],
                                        [esc(s) for s in status]]),
            hovertemplate=(f"{label}<br>%{{customdata[0]}}, day %{{x}}<br>VAF %{{y:.4f}} "
                           "(%{customdata[1]})<extra>" + esc(category) + "</extra>")))
        visible_somatic.append(not hidden)
    n_variant_traces = len(fig.data)
    if tf_cn is not None and not tf_cn.empty:
        tf = tf_cn.sort_values("timepoint_days")
        fig.add_trace(go.Scatter(
            x=tf["timepoint_days"], y=tf["tumour_fraction"] / 2, mode="lines",
            line=dict(color="#212121", dash="dash", width=1), name="TF/2 (copy number)",
            hovertemplate="day %{x}: TF/2 = %{y:.4f}<extra></extra>"))
    extra = [True] * (len(fig.data) - n_variant_traces)
    fig.update_layout(updatemenus=[
        dict(type="buttons", direction="right", x=0.0, y=1.02, xanchor="left", yanchor="bottom",
             showactive=True, buttons=[
                 dict(label="linear", method="relayout", args=[{"yaxis.type": "linear"}]),
                 dict(label="log", method="relayout", args=[{"yaxis.type": "log"}])]),
        dict(type="buttons", direction="right", x=0.16, y=1.02, xanchor="left",
             yanchor="bottom", showactive=True, buttons=[
                 dict(label="tumour variants", method="restyle",
                      args=[{"visible": [True if v else "legendonly" for v in visible_somatic]
                             + extra}]),
                 dict(label="all incl. germline/CHIP/undetected", method="restyle",
                      args=[{"visible": [True] * n_variant_traces + extra}])]),
    ])
    _ttf_line(fig, ttf_days, ttf_event)
    fig.update_xaxes(title_text="days from treatment start")
    fig.update_yaxes(title_text="variant allele fraction")
    _layout(fig, "Variant allele fractions of tracked variants", height=540,
            margin=dict(l=70, r=30, t=110, b=50))
    fig.update_layout(title=dict(y=0.98, yref="container", yanchor="top"))
    return fig


def _tree_children(tree: pd.DataFrame, clusters: list[str]) -> tuple[dict, list[str]]:
    """children map and roots; a parent that is not a known cluster makes its child a root."""
    parent = {}
    if tree is not None and not tree.empty:
        for c, p in zip(tree["cluster_id"].astype(str), tree["parent_cluster_id"]):
            p = "" if p is None or (isinstance(p, float) and math.isnan(p)) else str(p)
            parent[c] = p
    children: dict[str, list[str]] = {c: [] for c in clusters}
    roots = []
    for c in clusters:
        p = parent.get(c, "")
        if p in children and p != c:
            children[p].append(c)
        else:
            roots.append(c)
    return children, roots


SUM_RULE_TOLERANCE = 0.05  # prevalence units; estimates within it count as nested


def fish_layout(prevalence: pd.DataFrame, tree: pd.DataFrame | None,
                tolerance: float = SUM_RULE_TOLERANCE) -> tuple[pd.DataFrame, bool]:
    """Band bounds of a fish plot: for each cluster and timepoint, (lower, upper) on a 0-1 axis.

    A clone occupies a band as wide as its prevalence (cancer cell fraction incl. descendants);
    children are stacked inside their parent's band, centred. When children's prevalences add up to
    more than the parent's, they are scaled down to fit; the second value returned is True when
    some excess is larger than ``tolerance`` (a real sum-rule violation, not estimation noise), so
    the page can say so."""
    clusters = sorted(prevalence["cluster_id"].astype(str).unique(), key=_natural)
    children, roots = _tree_children(tree, clusters)
    times = sorted(prevalence["timepoint_days"].unique())
    prev = {(str(c), t): max(0.0, float(p)) for c, t, p in
            zip(prevalence["cluster_id"], prevalence["timepoint_days"],
                prevalence["prevalence"].fillna(0))}
    rows = []
    scaled = False
    for t in times:
        def place(node: str, lo: float, width: float) -> None:
            nonlocal scaled
            rows.append((node, t, lo, lo + width))
            kids = children[node]
            widths = [prev.get((k, t), 0.0) for k in kids]
            total = sum(widths)
            if total > width + 1e-12:
                scaled = scaled or total > width + tolerance
                widths = [w * width / total for w in widths]
                total = width
            start = lo + (width - total) / 2
            for k, w in zip(kids, widths):
                place(k, start, w)
                start += w
        root_widths = [prev.get((r, t), 0.0) for r in roots]
        total = sum(root_widths)
        if total > 1 + 1e-12:
            scaled = scaled or total > 1 + tolerance
            root_widths = [w / total for w in root_widths]
            total = 1.0
        start = (1 - total) / 2
        for r, w in zip(roots, root_widths):
            place(r, start, w)
            start += w
    out = pd.DataFrame(rows, columns=["cluster_id", "timepoint_days", "lower", "upper"])
    return out, scaled


def _natural(value: str):
    return (0, int(value), "") if str(value).isdigit() else (1, 0, str(value))


def clone_labels(clusters: pd.DataFrame | None, max_genes: int = 3) -> dict[str, str]:
    """cluster_id -> 'GENE1, GENE2 (+n)' from one patient's variant_clusters rows."""
    labels: dict[str, str] = {}
    if clusters is None or clusters.empty:
        return labels
    for cid, g in clusters.groupby(clusters["cluster_id"].astype(str)):
        genes = [str(x) for x in g["gene"].dropna().unique() if str(x) not in ("", "nan")]
        text = ", ".join(genes[:max_genes])
        if len(genes) > max_genes:
            text += f" +{len(genes) - max_genes}"
        count = f"{len(g)} variant" + ("s" if len(g) != 1 else "")
        labels[cid] = f"{text} ({count})" if text else count
    return labels


def clone_fish_plot(prevalence: pd.DataFrame | None, tree: pd.DataFrame | None,
                    labels: Mapping[str, str] | None = None,
                    ttf_days: float | None = None) -> tuple[go.Figure | None, bool]:
    """Fish (nested area) plot of clone prevalence over time, from one patient's
    cluster_prevalence rows and tree rows. Returns (figure, scaled) where ``scaled`` says the
    children had to be shrunk to fit their parent at some timepoint."""
    if prevalence is None or prevalence.empty:
        return None, False
    bands, scaled = fish_layout(prevalence, tree)
    labels = labels or {}
    clusters = sorted(bands["cluster_id"].unique(), key=_natural)
    children, roots = _tree_children(tree, clusters)
    order: list[str] = []

    def walk(node):
        order.append(node)
        for k in children[node]:
            walk(k)
    for r in roots:
        walk(r)
    fig = go.Figure()
    prev = prevalence.assign(cluster_id=prevalence["cluster_id"].astype(str))
    for i, cid in enumerate(order):
        b = bands[bands["cluster_id"] == cid].sort_values("timepoint_days")
        colour = PALETTE[i % len(PALETTE)]
        x = list(b["timepoint_days"]) + list(b["timepoint_days"])[::-1]
        y = list(b["upper"]) + list(b["lower"])[::-1]
        p = prev[prev["cluster_id"] == cid].sort_values("timepoint_days")
        detail = "<br>".join(f"day {int(t)}: {v:.2f}" for t, v in
                             zip(p["timepoint_days"], p["prevalence"].fillna(0)))
        name = f"clone {esc(cid)}: {esc(labels.get(cid, ''))}".rstrip(": ")
        fig.add_trace(go.Scatter(
            x=x, y=y, fill="toself", mode="lines", line=dict(color=colour, width=1),
            fillcolor=colour, opacity=0.75, name=name, hoveron="fills",
            text=f"{name}<br>{detail}", hoverinfo="text"))
    if ttf_days is not None:
        fig.add_vline(x=ttf_days, line=dict(color="#c2185b", dash="dot", width=1.5))
    fig.update_xaxes(title_text="days from treatment start")
    fig.update_yaxes(title_text="cancer cell fraction (nested)", range=[0, 1], showticklabels=False)
    return _layout(fig, "Clone prevalence over time (fish plot)", height=420), scaled


def clone_tree(tree: pd.DataFrame | None, clusters: list[str],
               labels: Mapping[str, str] | None = None) -> go.Figure | None:
    """The clone tree: depth left to right, one row per leaf, parent-child edges."""
    if not clusters:
        return None
    clusters = sorted({str(c) for c in clusters}, key=_natural)
    labels = labels or {}
    children, roots = _tree_children(tree, clusters)
    pos: dict[str, tuple[float, float]] = {}
    next_leaf = [0]

    def place(node, depth):
        kids = children[node]
        if not kids:
            y = float(next_leaf[0])
            next_leaf[0] += 1
        else:
            ys = [place(k, depth + 1) for k in kids]
            y = sum(ys) / len(ys)
        pos[node] = (depth, y)
        return y
    for r in roots:
        place(r, 0)
    ex, ey = [], []
    for parent, kids in children.items():
        for k in kids:
            ex += [pos[parent][0], pos[k][0], None]
            ey += [pos[parent][1], pos[k][1], None]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line=dict(color="#607d8b", width=2),
                             hoverinfo="skip", showlegend=False))
    nodes = list(pos)
    order = {c: i for i, c in enumerate(clusters)}
    fig.add_trace(go.Scatter(
        x=[pos[n][0] for n in nodes], y=[pos[n][1] for n in nodes], mode="markers+text",
        marker=dict(size=22, color=[PALETTE[order[n] % len(PALETTE)] for n in nodes],
                    line=dict(color="white", width=2)),
        text=[f"clone {esc(n)}" + (f"<br>{esc(labels[n])}" if labels.get(n) else "")
              for n in nodes],
        # leaves: label to the right; inner nodes above/below by depth so a chain stays legible
        textposition=["middle right" if not children[n] else
                      ("top center" if pos[n][0] % 2 == 0 else "bottom center") for n in nodes],
        hoverinfo="text", showlegend=False))
    n_leaves = max(next_leaf[0], 1)
    depth = max(p[0] for p in pos.values())
    # room left of the root for its label (drawn above it) and right of the leaves for theirs
    fig.update_xaxes(visible=False, range=[-1.0, depth + 1.8])
    fig.update_yaxes(visible=False, range=[n_leaves - 0.5, -0.5])
    title = "Clone tree" + (" (forest: no single trunk)" if len(roots) > 1 else "")
    return _layout(fig, title, height=max(200, 70 * n_leaves + 80))


def _downsample_bins(bins: pd.DataFrame, max_bins: int, keep: pd.Series) -> pd.DataFrame:
    """At most about ``max_bins`` points: consecutive bins pooled (median log2, mid position)
    per contig; bins flagged in ``keep`` (the marked gene) are kept as they are."""
    if len(bins) <= max_bins:
        return bins
    k = int(math.ceil(len(bins) / max_bins))
    kept = bins[keep]
    rest = bins[~keep].copy()
    rest["_chunk"] = rest.groupby("chromosome", sort=False).cumcount() // k
    pooled = (rest.groupby(["chromosome", "_chunk"], sort=False)
              .agg(start=("start", "min"), end=("end", "max"), log2=("log2", "median"),
                   pos=("pos", "median"))
              .reset_index().drop(columns="_chunk"))
    return pd.concat([pooled, kept[pooled.columns.intersection(kept.columns)]],
                     ignore_index=True).sort_values("pos")


def genome_copy_number(draws: list[tuple[str, str, pd.DataFrame, pd.DataFrame | None]],
                       gene: str, gene_location: tuple[str, int, int] | None = None,
                       max_bins: int = 3000) -> go.Figure | None:
    """Genome-wide copy number per draw: bins (log2 ratio, grey; pooled when there are more than
    ``max_bins``) and segments (orange), with the marked gene's bins red and its locus shaded.

    draws: (sample_id, label, cnr, cns or None) in time order; CNVkit .cnr/.cns tables
    (chromosome, start, end 0-based half-open, log2). Contigs in the order of the first .cnr."""
    draws = [d for d in draws if d[2] is not None and not d[2].empty]
    if not draws:
        return None
    contigs: list[str] = []
    length: dict[str, int] = {}
    for _, _, cnr, _ in draws:
        for chrom, end in cnr.groupby("chromosome", sort=False)["end"].max().items():
            if chrom not in length:
                contigs.append(chrom)
            length[chrom] = max(length.get(chrom, 0), int(end))
    offset, total = {}, 0
    for chrom in contigs:
        offset[chrom] = total
        total += length[chrom]
    fig = make_subplots(rows=len(draws), cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=[esc(label) for _, label, _, _ in draws])
    gene_esc = esc(gene)
    # shapes collected and set once: plotly's add_vrect/add_hline per subplot are slow
    shapes = []

    def rect(row, x0, x1, colour, opacity, layer="above"):
        axis = "" if row == 1 else str(row)
        shapes.append(dict(type="rect", xref=f"x{axis}", yref=f"y{axis} domain", x0=x0, x1=x1,
                           y0=0, y1=1, fillcolor=colour, opacity=opacity, line_width=0,
                           layer=layer))

    for row, (sample, _, cnr, cns) in enumerate(draws, start=1):
        bins = cnr[cnr["chromosome"].isin(offset)].copy()
        bins["pos"] = bins["chromosome"].map(offset) + (bins["start"] + bins["end"]) / 2
        in_gene = pd.Series(False, index=bins.index)
        if gene_location is not None:
            chrom, gs, ge = gene_location
            in_gene = (bins["chromosome"] == chrom) & (bins["end"] > gs) & (bins["start"] < ge)
        elif "gene" in bins:
            in_gene = bins["gene"].astype(str).str.split(",").map(lambda g: gene in g)
        shown = _downsample_bins(bins, max_bins, in_gene)
        fig.add_trace(go.Scatter(
            x=shown["pos"], y=shown["log2"], mode="markers",
            marker=dict(size=3, color="#78909c", opacity=0.6), name="bins (log2 ratio)",
            legendgroup="bins", showlegend=row == 1, hoverinfo="skip"), row=row, col=1)
        marked = bins[in_gene]
        if not marked.empty:
            fig.add_trace(go.Scatter(
                x=marked["pos"], y=marked["log2"], mode="markers",
                marker=dict(size=6, color="#c2185b"), name=f"{gene_esc} bins",
                legendgroup="gene", showlegend=row == 1,
                hovertemplate=f"{gene_esc}<br>log2 %{{y:.2f}}<extra></extra>"), row=row, col=1)
        if cns is not None and not cns.empty:
            seg = cns[cns["chromosome"].isin(offset)]
            xs, ys = [], []
            for chrom, s, e, v in zip(seg["chromosome"], seg["start"], seg["end"], seg["log2"]):
                xs += [offset[chrom] + s, offset[chrom] + e, None]
                ys += [v, v, None]
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines", line=dict(color="#ef6c00", width=3),
                name="segments", legendgroup="segments", showlegend=row == 1,
                hoverinfo="skip"), row=row, col=1)
        if gene_location is not None and gene_location[0] in offset:
            chrom, gs, ge = gene_location
            # widen the shade so a 40 kb gene stays visible on a whole-genome axis
            pad = max(0.0, total * 0.002 - (ge - gs) / 2)
            rect(row, offset[chrom] + gs - pad, offset[chrom] + ge + pad, "#c2185b", 0.15)
        for i, chrom in enumerate(contigs):
            if i % 2 == 1:
                rect(row, offset[chrom], offset[chrom] + length[chrom], "#eceff1", 0.6, "below")
        axis = "" if row == 1 else str(row)
        shapes.append(dict(type="line", xref=f"x{axis} domain", yref=f"y{axis}", x0=0, x1=1,
                           y0=0, y1=0, line=dict(color="#bdbdbd", width=1)))
        fig.update_yaxes(title_text="log2", row=row, col=1)
    fig.update_layout(shapes=shapes)
    fig.update_xaxes(tickvals=[offset[c] + length[c] / 2 for c in contigs],
                     ticktext=[esc(c).replace("chr", "") for c in contigs], range=[0, total],
                     showgrid=False)
    fig.update_xaxes(title_text="chromosome", row=len(draws), col=1)
    return _layout(fig, f"Genome-wide copy number per draw ({gene_esc} marked)",
                   height=140 + 200 * len(draws))


# ------------------------------------------------------------------------------ cohort
def fragment_length_profiles(profiles: Mapping[str, pd.DataFrame], qc: pd.DataFrame | None,
                             max_individual: int = 40, length_range=(30, 500)) -> go.Figure | None:
    """Fragment-length distributions (fraction of fragments per bp), overlaid.

    Up to ``max_individual`` samples: one line each (plasma blue, normal grey, QC failures red).
    More: per sample type the median and the 10-90% band across samples, plus the failing samples
    as lines (at most 20), so the page stays small for any cohort size."""
    if not profiles:
        return None
    lo, hi = length_range
    grid = np.arange(lo, hi + 1)
    dens = {}
    for sample, df in profiles.items():
        if df is None or df.empty or df["count"].sum() <= 0:
            continue
        counts = df.groupby("length")["count"].sum().reindex(grid, fill_value=0).to_numpy(float)
        dens[sample] = counts / df["count"].sum()
    if not dens:
        return None
    info = _qc_info(qc)
    fig = go.Figure()
    failed = [s for s in dens if info.get(s, ("plasma", None))[1] is False]
    colours = {"plasma": "#1f77b4", "normal": "#9e9e9e"}
    if len(dens) <= max_individual:
        for sample in sorted(dens):
            stype, passed = info.get(sample, ("plasma", None))
            colour = "#c2185b" if passed is False else colours.get(stype, "#1f77b4")
            fig.add_trace(go.Scatter(
                x=grid, y=dens[sample], mode="lines", line=dict(color=colour, width=1),
                opacity=0.8, name=esc(sample), legendgroup=stype,
                legendgrouptitle_text=esc(stype),
                hovertemplate=f"{esc(sample)}<br>%{{x}} bp: %{{y:.4f}}<extra></extra>"))
    else:
        by_type: dict[str, list[str]] = {}
        for sample in dens:
            by_type.setdefault(info.get(sample, ("plasma", None))[0], []).append(sample)
        for stype, samples in sorted(by_type.items()):
            m = np.vstack([dens[s] for s in samples])
            q10, q50, q90 = np.percentile(m, [10, 50, 90], axis=0)
            colour = colours.get(stype, "#1f77b4")
            fig.add_trace(go.Scatter(x=np.r_[grid, grid[::-1]], y=np.r_[q90, q10[::-1]],
                                     fill="toself", fillcolor=colour, opacity=0.2,
                                     line=dict(width=0), name=f"{esc(stype)} 10-90%",
                                     hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=grid, y=q50, mode="lines", line=dict(color=colour, width=2),
                                     name=f"{esc(stype)} median ({len(samples)} samples)",
                                     hovertemplate="%{x} bp: %{y:.4f}<extra></extra>"))
        for sample in sorted(failed)[:20]:
            fig.add_trace(go.Scatter(
                x=grid, y=dens[sample], mode="lines", line=dict(color="#c2185b", width=1),
                name=f"{esc(sample)} (QC fail)",
                hovertemplate=f"{esc(sample)}<br>%{{x}} bp: %{{y:.4f}}<extra></extra>"))
    fig.add_vline(x=167, line=dict(color="#455a64", dash="dot", width=1),
                  annotation_text="167 bp", annotation_font_size=10)
    fig.update_xaxes(title_text="fragment length (bp)")
    fig.update_yaxes(title_text="fraction of fragments")
    return _layout(fig, "Fragment-length profiles (red: QC failure)", height=420)


def qc_pass_column(qc: pd.DataFrame) -> str | None:
    for col in ("qc_pass", "qc_status", "pass", "qc"):
        if col in qc.columns:
            return col
    return None


def qc_reason_column(qc: pd.DataFrame) -> str | None:
    for col in ("qc_reason", "reason", "qc_reasons"):
        if col in qc.columns:
            return col
    return None


def qc_passed(qc: pd.DataFrame) -> pd.Series:
    """True/False/NA per row from the QC table's pass column (bool, 0/1 or PASS/FAIL text)."""
    col = qc_pass_column(qc)
    if col is None:
        return pd.Series(pd.NA, index=qc.index, dtype="boolean")
    text = qc[col].astype("string").str.strip().str.lower()
    mapped = text.map({"pass": "true", "passed": "true", "fail": "false", "failed": "false"})
    from .sources import as_bool
    return as_bool(mapped.fillna(text))


def _qc_info(qc: pd.DataFrame | None) -> dict[str, tuple[str, bool | None]]:
    if qc is None or qc.empty:
        return {}
    passed = qc_passed(qc)
    stype = qc["sample_type"] if "sample_type" in qc else pd.Series("plasma", index=qc.index)
    return {s: (str(t), None if pd.isna(p) else bool(p))
            for s, t, p in zip(qc["sample_id"], stype, passed)}


QC_METRICS = [  # (preferred column names, axis title)
    (("duplicate_rate",), "duplicate rate"),
    (("fragment_mode",), "fragment mode (bp)"),
    (("fragment_median", "median_fragment_length", "fragment_length_median"),
     "median fragment (bp)"),
    (("short_fraction", "short_fragment_fraction", "fraction_short"), "short fragments"),
    (("on_target_fraction", "on_target_rate"), "on-target fraction"),
    (("median_on_target_depth", "mean_on_target_depth", "on_target_depth"), "on-target depth"),
    (("mapped_fraction",), "mapped fraction"),
    (("properly_paired_fraction",), "properly paired"),
]


def qc_metric_columns(qc: pd.DataFrame) -> list[tuple[str, str]]:
    out = []
    for names, title in QC_METRICS:
        for n in names:
            if n in qc.columns and pd.to_numeric(qc[n], errors="coerce").notna().any():
                out.append((n, title))
                break
    return out


def qc_metrics(qc: pd.DataFrame | None, max_points: int = 2000) -> go.Figure | None:
    """Key QC metrics of every sample as strips per sample type; failures red, with the reason
    in the hover text. Above ``max_points`` samples, passing samples are shown as box plots."""
    if qc is None or qc.empty:
        return None
    metrics = qc_metric_columns(qc)
    if not metrics:
        return None
    passed = qc_passed(qc)
    reason_col = qc_reason_column(qc)
    stype = qc["sample_type"].fillna("plasma") if "sample_type" in qc \
        else pd.Series("plasma", index=qc.index)
    cols = min(4, len(metrics))
    rows = int(math.ceil(len(metrics) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[t for _, t in metrics],
                        horizontal_spacing=0.07, vertical_spacing=0.18)
    fail = (passed == False).fillna(False).to_numpy()  # noqa: E712 (nullable boolean)
    reasons = qc[reason_col].fillna("").astype(str) if reason_col else pd.Series("", index=qc.index)
    hover = [f"{esc(s)} ({esc(t)})" + (f"<br>FAIL: {esc(r)}" if f else "")
             for s, t, r, f in zip(qc["sample_id"], stype, reasons, fail)]
    for i, (col, _) in enumerate(metrics):
        r, c = i // cols + 1, i % cols + 1
        values = pd.to_numeric(qc[col], errors="coerce")
        for ok, colour, label in ((True, "#1f77b4", "pass"), (False, "#c2185b", "fail")):
            mask = (~fail if ok else fail)
            if not mask.any():
                continue
            x = stype[mask].astype(str).map(esc)
            if ok and mask.sum() > max_points:
                fig.add_trace(go.Box(x=x, y=values[mask], name=label, marker_color=colour,
                                     boxpoints=False, showlegend=False), row=r, col=c)
                continue
            fig.add_trace(go.Box(
                x=x, y=values[mask], name=label, boxpoints="all", jitter=0.5, pointpos=0,
                fillcolor="rgba(0,0,0,0)", line=dict(width=0), marker=dict(color=colour, size=6),
                text=[h for h, m in zip(hover, mask) if m], hoverinfo="text+y",
                legendgroup=label, showlegend=False), row=r, col=c)
    fig.update_layout(boxmode="overlay")
    return _layout(fig, "QC metrics of all samples (red: failed QC)", height=300 * rows + 60)


def burden_waterfall(burden: pd.DataFrame | None, response: pd.Series | None = None,
                     label_limit: int = 60) -> go.Figure | None:
    """Baseline HER2 burden per patient, sorted high to low, bars coloured by best response.

    burden: her2_burden.tsv (patient_id, her2_burden[, best_response]); ``response`` (indexed by
    patient) overrides the table's best_response. Patient names on the axis up to
    ``label_limit`` patients (hover beyond)."""
    if burden is None or burden.empty:
        return None
    df = burden[["patient_id", "her2_burden"]].copy()
    if response is not None:
        df["best_response"] = df["patient_id"].map(response)
    elif "best_response" in burden:
        df["best_response"] = burden["best_response"].to_numpy()
    else:
        df["best_response"] = None
    df["best_response"] = df["best_response"].fillna("unknown").replace("", "unknown").astype(str)
    df = df.sort_values(["her2_burden", "patient_id"], ascending=[False, True],
                        na_position="last")
    order = [esc(p) for p in df["patient_id"]]
    fig = go.Figure()
    known = [r for r in RESPONSE_ORDER if r in set(df["best_response"])]
    others = sorted(set(df["best_response"]) - set(RESPONSE_ORDER))
    for resp in known + others:
        part = df[df["best_response"] == resp]
        fig.add_trace(go.Bar(x=[esc(p) for p in part["patient_id"]], y=part["her2_burden"],
                             name=esc(resp), marker_color=RESPONSE_COLOURS.get(resp, "#607d8b"),
                             hovertemplate="%{x}: burden %{y:.3g}<extra>" + esc(resp)
                             + "</extra>"))
    fig.update_xaxes(categoryorder="array", categoryarray=order,
                     showticklabels=len(order) <= label_limit, title_text="patient")
    fig.update_yaxes(title_text="baseline HER2 burden")
    return _layout(fig, "Baseline HER2 ctDNA burden by best response", height=420,
                   legend_title_text="best response", bargap=0.15)


def _at_risk(curve: pd.DataFrame, ticks: np.ndarray) -> list[int]:
    """Numbers at risk at each tick: at_risk of the first curve row at or after the tick (the
    rows are the observed times, so nobody leaves between a tick and that row); 0 past the end."""
    times = curve["time"].to_numpy(float)
    risk = curve["at_risk"].to_numpy(float)
    out = []
    for t in ticks:
        idx = np.searchsorted(times, t, side="left")
        out.append(int(risk[idx]) if idx < len(times) and not np.isnan(risk[idx]) else 0)
    return out


def _fmt_p(p) -> str:
    v = _num(p)
    if v is None:
        return "n/a"
    return "< 0.0001" if v < 1e-4 else f"{v:.2g}" if v < 0.01 else f"{v:.3f}"


def km_plot(curves: pd.DataFrame, analysis: str, stats: Mapping | None = None,
            time_unit: str = "months") -> go.Figure | None:
    """Kaplan-Meier curves of one analysis (km_curves.tsv rows) with 95% bands, censoring
    ticks, numbers at risk below and the log-rank p and hazard ratio (from survival.tsv) in the
    title."""
    df = curves[curves["analysis"] == analysis]
    if df.empty:
        return None
    groups = sorted(df["group"].astype(str).unique())
    tmax = float(df["time"].max())
    step = nice_step(tmax / 6)
    ticks = np.arange(0, tmax + 1e-9, step)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22],
                        vertical_spacing=0.06)
    for i, group in enumerate(groups):
        colour = PALETTE[i % len(PALETTE)]
        g = df[df["group"].astype(str) == group].sort_values("time")
        if g["time"].iloc[0] > 0:  # every curve starts at 1 at time 0
            first = g.iloc[[0]].copy()
            first[["time", "survival", "ci_lower", "ci_upper"]] = [0.0, 1.0, 1.0, 1.0]
            g = pd.concat([first, g], ignore_index=True)
        tu, yu = _steps(g["time"].to_numpy(float), g["ci_upper"].to_numpy(float))
        tl, yl = _steps(g["time"].to_numpy(float), g["ci_lower"].to_numpy(float))
        fig.add_trace(go.Scatter(
            x=np.r_[tu, tl[::-1]], y=np.r_[yu, yl[::-1]], fill="toself", fillcolor=colour,
            opacity=0.15, line=dict(width=0), hoverinfo="skip", showlegend=False,
            legendgroup=esc(group)), row=1, col=1)
        fig.add_trace(go.Scatter(
            x=g["time"], y=g["survival"], mode="lines", line=dict(color=colour, shape="hv",
                                                                 width=2),
            name=esc(group), legendgroup=esc(group),
            hovertemplate="%{x:.1f} " + time_unit + ": %{y:.2f}<extra>" + esc(group)
            + "</extra>"), row=1, col=1)
        # censoring: an observed time at which the curve does not drop but the risk set shrinks
        if "censored" in g and g["censored"].notna().any():
            cens = list(np.flatnonzero((g["censored"].fillna(0) > 0).to_numpy()))
        else:  # without counts: an observed time at which the curve does not drop
            surv = g["survival"].to_numpy(float)
            risk = g["at_risk"].to_numpy(float)
            cens = [j for j in range(1, len(g))
                    if surv[j] == surv[j - 1] and g["time"].iloc[j] > 0]
            if len(g) and risk[-1] > 0 and (len(g) < 2 or surv[-1] == surv[-2]):
                cens.append(len(g) - 1)
            cens = sorted(set(cens))
        if cens:
            fig.add_trace(go.Scatter(
                x=g["time"].iloc[cens], y=g["survival"].iloc[cens], mode="markers",
                marker=dict(symbol="line-ns-open", size=9, color=colour), showlegend=False,
                legendgroup=esc(group), hoverinfo="skip"), row=1, col=1)
        fig.add_trace(go.Scatter(
            x=ticks, y=[esc(group)] * len(ticks), mode="text",
            text=[str(n) for n in _at_risk(g[g["time"] > 0] if (g["time"] > 0).any() else g,
                                           ticks)],
            textfont=dict(color=colour, size=11), showlegend=False, hoverinfo="skip"),
            row=2, col=1)
    title = f"{esc(analysis)}: Kaplan-Meier"
    if stats:
        # An optimised cut-point's own p is over-optimistic: quote the adjusted one where given.
        adjusted = _num(stats.get("p_value_adjusted"))
        if adjusted is not None:
            title += f" (cut-point-adjusted log-rank p = {_fmt_p(adjusted)}"
        else:
            title += f" (log-rank p = {_fmt_p(stats.get('p_value'))}"
        hr = _num(stats.get("hazard_ratio"))
        if hr is not None:
            lo, hi = _num(stats.get("hr_lower")), _num(stats.get("hr_upper"))
            if _estimable_hr(hr, lo, hi):
                title += f", HR {hr:.2f} ({lo:.2f}-{hi:.2f})"
            else:
                title += ", HR not estimable"
        title += ")"
    fig.update_yaxes(title_text="event-free", range=[0, 1.05], row=1, col=1)
    fig.update_yaxes(title_text="at risk", row=2, col=1, showgrid=False,
                     range=[-0.6, len(groups) - 0.4])
    fig.update_xaxes(title_text=time_unit, tickvals=ticks, row=2, col=1)
    fig.update_xaxes(tickvals=ticks, row=1, col=1)
    return _layout(fig, title, height=460)


def _steps(t: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points of a right-continuous step function through (t, y), for filled step bands
    (missing values carry the last one forward)."""
    y = pd.Series(y).ffill().bfill().to_numpy(float)
    if len(t) == 0:
        return t, y
    ts = np.repeat(t, 2)[1:]
    ys = np.repeat(y, 2)[:-1]
    return ts, ys


HR_RANGE = (1e-3, 1e3)  # beyond this (or an infinite bound) a hazard ratio is not estimable


def _estimable_hr(hr, lo, hi) -> bool:
    """A hazard ratio worth drawing: finite bounds inside HR_RANGE (tiny cohorts or complete
    separation give 1e7 with an interval from 0 to infinity)."""
    values = [hr, lo, hi]
    if any(v is None or not math.isfinite(v) for v in values):
        return False
    return all(HR_RANGE[0] <= v <= HR_RANGE[1] for v in values) and lo <= hr <= hi


def forest_plot(survival: pd.DataFrame | None) -> go.Figure | None:
    """Hazard ratios with 95% intervals of every analysis that has an estimable one
    (survival.tsv); the others are counted in the title (the table beside lists them)."""
    if survival is None or survival.empty:
        return None
    has_hr = survival[survival["hazard_ratio"].notna()]
    ok = [_estimable_hr(_num(h), _num(lo), _num(hi)) for h, lo, hi in
          zip(has_hr["hazard_ratio"], has_hr["hr_lower"], has_hr["hr_upper"])]
    df = has_hr[ok]
    dropped = len(has_hr) - len(df)
    if df.empty:
        return None
    df = df.iloc[::-1]
    labels = [f"{esc(a)} [{esc(e)}]" for a, e in zip(df["analysis"], df["endpoint"])]
    text = [f"HR {h:.2f} ({lo:.2f}-{hi:.2f}), p {_fmt_p(p)}, n={_fmt_int(n)}"
            for h, lo, hi, p, n in zip(df["hazard_ratio"], df["hr_lower"].fillna(np.nan),
                                       df["hr_upper"].fillna(np.nan), df["p_value"], df["n"])]
    fig = go.Figure(go.Scatter(
        x=df["hazard_ratio"], y=labels, mode="markers",
        marker=dict(symbol="square", size=11, color="#1f77b4"),
        error_x=_errors(df["hazard_ratio"], df["hr_lower"], df["hr_upper"]),
        text=text, hovertemplate="%{y}<br>%{text}<extra></extra>", showlegend=False))
    fig.add_vline(x=1, line=dict(color="#455a64", dash="dash", width=1))
    fig.update_xaxes(type="log", title_text="hazard ratio (log scale)")
    title = "Cox models: hazard ratios with 95% intervals"
    if dropped:
        title += f" ({dropped} not estimable, not drawn)"
    return _layout(fig, title,
                   height=max(240, 50 * len(df) + 120), margin=dict(l=260, r=30, t=60, b=50))


def swimmer_plot(clinical: pd.DataFrame | None, draws: pd.DataFrame,
                 tf: pd.DataFrame | None = None, label_limit: int = 60) -> go.Figure | None:
    """Swimmer plot: one lane per patient, bar to TTF (months; colour = best response), X at
    treatment failure, arrow when censored, ctDNA draws as markers (filled = tumour DNA detected
    by copy number, open = not detected, grey = not assessed).

    clinical: patient_id, ttf_months, ttf_event[, best_response]; draws: sample_id, patient_id,
    timepoint_days (plasma); tf: tumour_fraction.tsv (optional)."""
    if clinical is None or clinical.empty or "ttf_months" not in clinical:
        return None
    cl = clinical[clinical["ttf_months"].notna()].copy()
    if cl.empty:
        return None
    cl["best_response"] = (cl["best_response"] if "best_response" in cl else None)
    cl["best_response"] = cl["best_response"].fillna("unknown").replace("", "unknown").astype(str)
    cl = cl.sort_values(["ttf_months", "patient_id"], ascending=[True, True])
    order = [esc(p) for p in cl["patient_id"]]
    fig = go.Figure()
    for resp in [r for r in RESPONSE_ORDER if r in set(cl["best_response"])] + \
            sorted(set(cl["best_response"]) - set(RESPONSE_ORDER)):
        part = cl[cl["best_response"] == resp]
        fig.add_trace(go.Bar(
            x=part["ttf_months"], y=[esc(p) for p in part["patient_id"]], orientation="h",
            marker_color=RESPONSE_COLOURS.get(resp, "#607d8b"), name=esc(resp), opacity=0.75,
            hovertemplate="%{y}: TTF %{x:.1f} months<extra>" + esc(resp) + "</extra>"))
    events = cl[cl["ttf_event"].fillna(0).astype(int) == 1]
    cens = cl[cl["ttf_event"].fillna(0).astype(int) == 0]
    fig.add_trace(go.Scatter(x=events["ttf_months"], y=[esc(p) for p in events["patient_id"]],
                             mode="markers", marker=dict(symbol="x", size=9, color="#212121"),
                             name="treatment failure", hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=cens["ttf_months"], y=[esc(p) for p in cens["patient_id"]],
                             mode="markers",
                             marker=dict(symbol="triangle-right", size=9, color="#212121"),
                             name="censored", hoverinfo="skip"))
    d = draws[draws["patient_id"].isin(set(cl["patient_id"]))].copy()
    if not d.empty:
        d["months"] = d["timepoint_days"].astype(float) / DAYS_PER_MONTH
        det = pd.Series(pd.NA, index=d.index, dtype="boolean")
        if tf is not None and not tf.empty:
            from .sources import as_bool
            status = dict(zip(tf["sample_id"], as_bool(tf["tf_detected"])))
            det = d["sample_id"].map(status).astype("boolean")
        for key, label, symbol, colour in ((True, "ctDNA detected", "circle", "#0d47a1"),
                                           (False, "ctDNA not detected", "circle-open",
                                            "#0d47a1"),
                                           (None, "draw (TF not assessed)", "circle", "#9e9e9e")):
            mask = det.isna() if key is None else (det == key).fillna(False)
            part = d[mask.to_numpy()]
            if part.empty:
                continue
            fig.add_trace(go.Scatter(
                x=part["months"], y=[esc(p) for p in part["patient_id"]], mode="markers",
                marker=dict(symbol=symbol, size=7, color=colour, line=dict(width=1.5,
                                                                           color=colour)),
                name=label, text=[esc(s) for s in part["sample_id"]],
                hovertemplate="%{text}: month %{x:.1f}<extra></extra>"))
    fig.add_vline(x=0, line=dict(color="#455a64", width=1))
    fig.update_yaxes(categoryorder="array", categoryarray=order,
                     showticklabels=len(order) <= label_limit, title_text="patient")
    fig.update_xaxes(title_text="months from treatment start")
    return _layout(fig, "Swimmer plot: time to treatment failure with ctDNA draws",
                   height=min(3200, max(320, 16 * len(order) + 140)), barmode="overlay")


def burden_by_response(burden: pd.DataFrame | None, response: pd.Series | None = None,
                       stats: Mapping | None = None) -> go.Figure | None:
    """Baseline HER2 burden per best-response category (box + every patient as a point)."""
    if burden is None or burden.empty:
        return None
    df = burden[["patient_id", "her2_burden"]].copy()
    if response is not None:
        df["best_response"] = df["patient_id"].map(response)
    elif "best_response" in burden:
        df["best_response"] = burden["best_response"].to_numpy()
    else:
        return None
    df["best_response"] = df["best_response"].fillna("unknown").replace("", "unknown").astype(str)
    df = df[df["her2_burden"].notna()]
    if df.empty:
        return None
    cats = [r for r in RESPONSE_ORDER if r in set(df["best_response"])] + \
        sorted(set(df["best_response"]) - set(RESPONSE_ORDER))
    fig = go.Figure()
    for resp in cats:
        part = df[df["best_response"] == resp]
        fig.add_trace(go.Box(
            x=[esc(resp)] * len(part), y=part["her2_burden"], name=esc(resp),
            marker_color=RESPONSE_COLOURS.get(resp, "#607d8b"), boxpoints="all", jitter=0.4,
            pointpos=0, text=[esc(p) for p in part["patient_id"]],
            hovertemplate="%{text}: %{y:.3g}<extra></extra>"))
    title = "Baseline HER2 burden by best response"
    if stats:
        test = stats.get("test") if isinstance(stats.get("test"), str) else None
        title += f" ({esc(test or 'test')} p = {_fmt_p(stats.get('p_value'))})"
    fig.update_xaxes(categoryorder="array", categoryarray=[esc(c) for c in cats],
                     title_text="best response")
    fig.update_yaxes(title_text="baseline HER2 burden")
    return _layout(fig, title, height=400, showlegend=False)
