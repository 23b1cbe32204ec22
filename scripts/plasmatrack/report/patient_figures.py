"""Per-patient report figures: pure functions from one patient's stage tables to plotly figures.

Nothing here reads or writes files. Each function takes the rows it plots (already restricted to
the patient) and returns a ``plotly.graph_objects.Figure``, or None when there is nothing to draw.

Units: time in days from treatment start (clinical months are converted with DAYS_PER_MONTH);
fractions (TF, VAF, prevalence) as fractions 0-1; genomic positions 0-based (CNVkit bins, BED).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..consequence_terms import silent_note
from ..units import DAYS_PER_MONTH
from .mrd_figures import add_patient_traces as add_mrd_traces
from .plotting import PALETTE, RESPONSE_COLOURS, apply_layout, error_bars, esc, float_or_none, \
    format_int

STATUS_SYMBOLS = {"detected": "circle", "not_detected": "circle-open",
                  "undetermined": "diamond-open"}
CATEGORY_ORDER = ["somatic", "germline", "chip", "artifact"]
# Categories a reader rarely wants first: drawn but hidden until clicked in the legend.
HIDDEN_CATEGORIES = ("germline", "chip", "artifact")


def _ttf_line(fig: go.Figure, ttf_days: float | None, event: int | None, **kwargs) -> None:
    if ttf_days is None:
        return
    label = "treatment failure" if event == 1 else "TTF censored"
    fig.add_vline(x=ttf_days, line=dict(color="#c2185b", dash="dot", width=1.5),
                  annotation_text=label, annotation_position="top left",
                  annotation_font_size=10, **kwargs)


def treatment_timeline(patient: str, draws: pd.DataFrame, clinical: Mapping | None) -> go.Figure:
    """Treatment timeline: plasma draws (days), treatment span to TTF with its event or
    censoring, OS end point where given, best response in the title.

    draws: sample_id, timepoint_days (plasma rows of one patient)."""
    fig = go.Figure()
    ttf_days = os_days = None
    response = "not given"
    if clinical:
        months = float_or_none(clinical.get("ttf_months"))
        ttf_days = None if months is None else months * DAYS_PER_MONTH
        os_m = float_or_none(clinical.get("os_months"))
        os_days = None if os_m is None else os_m * DAYS_PER_MONTH
        response = esc(clinical.get("best_response")) or "not given"
    if ttf_days is not None:
        event = float_or_none(clinical.get("ttf_event"))
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
        os_event = float_or_none(clinical.get("os_event"))
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
    return apply_layout(fig, f"Treatment timeline: best response {response}", height=280)


def tumour_fraction_over_time(tf_cn: pd.DataFrame | None, tf_snv: pd.DataFrame | None,
                              ttf_days: float | None = None,
                              ttf_event: int | None = None,
                              mrd: pd.DataFrame | None = None) -> go.Figure | None:
    """Tumour fraction per draw with 95% intervals: the published (combined) estimate, filled
    when detected and open when not, and beside it each method's own estimate (copy number and
    BAF from tumour_fraction.tsv's per-method columns, SNVs from snv_tumour_fraction.tsv) and
    the residual-disease call with its LoD95 (mrd_calls.tsv). Inputs are one patient's rows of
    those tables; any may be None."""
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
            error_y=error_bars(df["tumour_fraction"], df["tf_lower"], df["tf_upper"]),
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
                error_y=error_bars(df[cols[0]], df[cols[1]], df[cols[2]]),
                marker=dict(size=8, color=color, symbol="diamond"),
                text=[esc(s) for s in df["sample_id"]],
                hovertemplate="%{text}, day %{x}<br>TF %{y:.3f}<extra>" + label + "</extra>"))
    if tf_snv is not None and not tf_snv.empty:
        df = tf_snv.sort_values("timepoint_days")
        fig.add_trace(go.Scatter(
            x=df["timepoint_days"], y=df["tumour_fraction_snv"], mode="lines+markers",
            name="TF from SNVs",
            error_y=error_bars(df["tumour_fraction_snv"], df["tf_snv_lower"], df["tf_snv_upper"]),
            marker=dict(size=9, color="#ff7f0e", symbol="square"),
            line=dict(color="#ff7f0e", dash="dash"),
            text=[f"{esc(s)} ({format_int(n)} SNVs)" for s, n in
                  zip(df["sample_id"], df["n_variants"])],
            hovertemplate="%{text}, day %{x}<br>TF %{y:.3f}<extra>SNVs</extra>"))
    add_mrd_traces(fig, mrd)
    if not fig.data:
        return None
    _ttf_line(fig, ttf_days, ttf_event)
    fig.update_xaxes(title_text="days from treatment start")
    fig.update_yaxes(title_text="tumour fraction", tickformat=".0%", rangemode="tozero")
    return apply_layout(fig, "Tumour fraction over time (95% intervals)")


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
            error_y=error_bars(est["tumour_copy_number"], est["tumour_copy_number_lower"],
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
    return apply_layout(fig, f"{name} copy number over time", height=560)


def variant_label(row: Mapping) -> str:
    """'GENE protein_change' when known, else 'GENE chrom:pos ref>alt' (pos 1-based); a
    synonymous or non-coding variant says so ('TP53 A61= (synonymous)', issue 24)."""
    gene = row.get("gene")
    gene = "" if gene is None or (isinstance(gene, float) and math.isnan(gene)) else str(gene)
    change = row.get("protein_change")
    note = silent_note(row.get("consequence"))
    if isinstance(change, str) and change and change != "nan":
        return f"{gene} {change}".strip() + note
    return f"{gene} {row['chrom']}:{int(row['pos'])} {row['ref']}>{row['alt']}".strip() + note


def _variant_groups(df: pd.DataFrame) -> list[pd.DataFrame]:
    """One patient's plasma rows per variant, in legend order: category (CATEGORY_ORDER),
    gene, chromosome, position."""
    order = {c: i for i, c in enumerate(CATEGORY_ORDER)}
    groups = sorted(df.groupby(["chrom", "pos", "ref", "alt"], sort=False),
                    key=lambda kv: (order.get(kv[1]["category"].iloc[0], 9),
                                    str(kv[1]["gene"].iloc[0]), kv[0][0], kv[0][1]))
    return [g for _, g in groups]


def _vaf_trace(g: pd.DataFrame, label: str, colour: str, hidden: bool) -> go.Scatter:
    """One variant's VAF line with intervals, status markers and its label at the last draw."""
    category = g.iloc[0]["category"]
    status = g["status"].fillna("undetermined").astype(str)
    text = [""] * (len(g) - 1) + [label]
    return go.Scatter(
        x=g["timepoint_days"], y=g["vaf"], mode="lines+markers+text", name=label,
        legendgroup=esc(category), legendgrouptitle_text=esc(category),
        visible="legendonly" if hidden else True,
        line=dict(color=colour, width=1.5, dash="dot" if hidden else "solid"),
        marker=dict(size=9, color=colour,
                    symbol=[STATUS_SYMBOLS.get(s, "diamond-open") for s in status],
                    line=dict(width=1.5, color=colour)),
        error_y=error_bars(g["vaf"], g["vaf_lower"], g["vaf_upper"]),
        text=text, textposition="middle right", textfont=dict(size=10, color=colour),
        customdata=np.column_stack([[esc(s) for s in g["sample_id"]],
                                    [esc(s) for s in status]]),
        hovertemplate=(f"{label}<br>%{{customdata[0]}}, day %{{x}}<br>VAF %{{y:.4f}} "
                       "(%{customdata[1]})<extra>" + esc(category) + "</extra>"))


def _vaf_buttons(visible_somatic: list[bool], n_extra: int) -> list[dict]:
    """The linear/log switch and the tumour-variants/all switch; ``n_extra`` traces after the
    variants' (TF/2) stay visible."""
    extra = [True] * n_extra
    n_variant_traces = len(visible_somatic)
    return [
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
    ]


def vaf_trajectories(variants: pd.DataFrame, tf_cn: pd.DataFrame | None = None,
                     ttf_days: float | None = None, ttf_event: int | None = None,
                     hidden_categories=HIDDEN_CATEGORIES) -> go.Figure | None:
    """VAF of every tracked variant across one patient's plasma draws.

    One line per variant with its 95% interval; marker by status (filled = detected, open circle
    = not detected, open diamond = undetermined); gene label at the last draw; germline, CHIP and
    artifact variants, and variants never detected in any draw, drawn but hidden until switched
    on (legend click or the buttons); a linear/log y-axis switch. TF/2 from copy number is drawn
    for reference (the VAF of a clonal heterozygous copy-neutral SNV). variants: one patient's
    rows of tracked_variants.tsv."""
    if variants is None or variants.empty:
        return None
    df = variants[variants["sample_type"].fillna("plasma") == "plasma"].copy()
    if df.empty:
        return None
    df["category"] = df["category"].fillna("unclassified").astype(str)
    df = df.sort_values(["timepoint_days"])
    fig = go.Figure()
    visible_somatic = []
    colour_i = 0
    for g in _variant_groups(df):
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
        fig.add_trace(_vaf_trace(g, label, colour, hidden))
        visible_somatic.append(not hidden)
    if tf_cn is not None and not tf_cn.empty:
        tf = tf_cn.sort_values("timepoint_days")
        fig.add_trace(go.Scatter(
            x=tf["timepoint_days"], y=tf["tumour_fraction"] / 2, mode="lines",
            line=dict(color="#212121", dash="dash", width=1), name="TF/2 (copy number)",
            hovertemplate="day %{x}: TF/2 = %{y:.4f}<extra></extra>"))
    fig.update_layout(updatemenus=_vaf_buttons(visible_somatic,
                                               len(fig.data) - len(visible_somatic)))
    _ttf_line(fig, ttf_days, ttf_event)
    fig.update_xaxes(title_text="days from treatment start")
    fig.update_yaxes(title_text="variant allele fraction")
    apply_layout(fig, "Variant allele fractions of tracked variants", height=540,
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
    return apply_layout(fig, "Clone prevalence over time (fish plot)", height=420), scaled


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
    return apply_layout(fig, title, height=max(200, 70 * n_leaves + 80))


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


def _genome_axis(draws: list[tuple]) -> tuple[list[str], dict[str, int], dict[str, int]]:
    """Contigs in the order of the first .cnr, each contig's length (largest bin end over the
    draws) and its offset on one genome-wide axis."""
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
    return contigs, length, offset


def _gene_bins(bins: pd.DataFrame, gene: str,
               gene_location: tuple[str, int, int] | None) -> pd.Series:
    """Bins of the marked gene: overlapping its BED location, else named in the .cnr gene
    column."""
    if gene_location is not None:
        chrom, gs, ge = gene_location
        return (bins["chromosome"] == chrom) & (bins["end"] > gs) & (bins["start"] < ge)
    if "gene" in bins:
        return bins["gene"].astype(str).str.split(",").map(lambda g: gene in g)
    return pd.Series(False, index=bins.index)


def _draw_traces(fig: go.Figure, row: int, cnr: pd.DataFrame, cns: pd.DataFrame | None,
                 offset: dict[str, int], gene: str,
                 gene_location: tuple[str, int, int] | None, max_bins: int) -> None:
    """One draw's bins (pooled), the marked gene's bins and the segments in subplot ``row``."""
    gene_esc = esc(gene)
    bins = cnr[cnr["chromosome"].isin(offset)].copy()
    bins["pos"] = bins["chromosome"].map(offset) + (bins["start"] + bins["end"]) / 2
    in_gene = _gene_bins(bins, gene, gene_location)
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


def _draw_shapes(row: int, contigs: list[str], length: dict[str, int], offset: dict[str, int],
                 gene_location: tuple[str, int, int] | None) -> list[dict]:
    """Subplot ``row``'s shapes: the gene's locus shaded, every other contig banded, a zero
    line."""
    axis = "" if row == 1 else str(row)
    total = sum(length.values())
    shapes = []

    def rect(x0, x1, colour, opacity, layer="above"):
        shapes.append(dict(type="rect", xref=f"x{axis}", yref=f"y{axis} domain", x0=x0, x1=x1,
                           y0=0, y1=1, fillcolor=colour, opacity=opacity, line_width=0,
                           layer=layer))

    if gene_location is not None and gene_location[0] in offset:
        chrom, gs, ge = gene_location
        # widen the shade so a 40 kb gene stays visible on a whole-genome axis
        pad = max(0.0, total * 0.002 - (ge - gs) / 2)
        rect(offset[chrom] + gs - pad, offset[chrom] + ge + pad, "#c2185b", 0.15)
    for i, chrom in enumerate(contigs):
        if i % 2 == 1:
            rect(offset[chrom], offset[chrom] + length[chrom], "#eceff1", 0.6, "below")
    shapes.append(dict(type="line", xref=f"x{axis} domain", yref=f"y{axis}", x0=0, x1=1,
                       y0=0, y1=0, line=dict(color="#bdbdbd", width=1)))
    return shapes


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
    contigs, length, offset = _genome_axis(draws)
    fig = make_subplots(rows=len(draws), cols=1, shared_xaxes=True, vertical_spacing=0.04,
                        subplot_titles=[esc(label) for _, label, _, _ in draws])
    # shapes collected and set once: plotly's add_vrect/add_hline per subplot are slow
    shapes = []
    for row, (_, _, cnr, cns) in enumerate(draws, start=1):
        _draw_traces(fig, row, cnr, cns, offset, gene, gene_location, max_bins)
        shapes += _draw_shapes(row, contigs, length, offset, gene_location)
        fig.update_yaxes(title_text="log2", row=row, col=1)
    fig.update_layout(shapes=shapes)
    fig.update_xaxes(tickvals=[offset[c] + length[c] / 2 for c in contigs],
                     ticktext=[esc(c).replace("chr", "") for c in contigs],
                     range=[0, sum(length.values())], showgrid=False)
    fig.update_xaxes(title_text="chromosome", row=len(draws), col=1)
    return apply_layout(fig, f"Genome-wide copy number per draw ({esc(gene)} marked)",
                        height=140 + 200 * len(draws))
