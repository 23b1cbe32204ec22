"""The consensus (UMI) QC of the cohort page: strand-family sizes per sample, duplex yield and
error rates before and after consensus, from the umi stage's tables (``tables.UMI_SUMMARY``,
``tables.UMI_FAMILY_SIZES``). Shown only when a run had UMIs (docs/umi.md, "In the pipeline")."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .plotting import apply_layout, esc

# the consensus QC columns shown in the cohort table, in this order (all in tables.UMI_SUMMARY)
UMI_TABLE_COLUMNS = ("sample_id", "patient_id", "reads", "families", "families_ge2",
                     "families_ge3", "molecules", "duplex_molecules", "duplex_yield",
                     "error_rate_raw", "error_rate_single", "error_rate_duplex")


def family_size_plot(histograms: Mapping[str, pd.DataFrame]) -> go.Figure | None:
    """Fraction of strand families per family size (reads per family), one line per sample,
    log-scaled sizes; None without a histogram."""
    fig = go.Figure()
    for sample in sorted(histograms):
        df = histograms[sample]
        if df is None or df.empty or df["families"].sum() <= 0:
            continue
        df = df.sort_values("family_size")
        share = df["families"].to_numpy(float) / df["families"].sum()
        fig.add_trace(go.Scatter(
            x=df["family_size"], y=share, mode="lines+markers", name=esc(sample),
            marker=dict(size=4), line=dict(width=1),
            hovertemplate=f"{esc(sample)}<br>%{{x}} reads: %{{y:.3f}} of families<extra></extra>"))
    if not fig.data:
        return None
    apply_layout(fig, "Strand-family sizes", xaxis_title="reads per family",
                 yaxis_title="fraction of families")
    fig.update_xaxes(type="log")
    return fig


def duplex_yield_plot(summary: pd.DataFrame | None) -> go.Figure | None:
    """Per sample: molecules and duplex molecules (bars) and the duplex yield (their ratio,
    points on a second axis); None without rows."""
    if summary is None or summary.empty:
        return None
    df = summary.sort_values(["patient_id", "sample_id"])
    names = [esc(s) for s in df["sample_id"]]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Bar(x=names, y=df["molecules"], name="molecules",
                         marker_color="#9e9e9e"), secondary_y=False)
    fig.add_trace(go.Bar(x=names, y=df["duplex_molecules"], name="duplex molecules",
                         marker_color="#1f77b4"), secondary_y=False)
    fig.add_trace(go.Scatter(x=names, y=df["duplex_yield"], mode="markers", name="duplex yield",
                             marker=dict(color="#c2185b", size=9)), secondary_y=True)
    apply_layout(fig, "Molecules and duplex yield per sample", barmode="overlay")
    fig.update_yaxes(title_text="molecules", secondary_y=False)
    fig.update_yaxes(title_text="duplex yield", range=[0, 1.05], secondary_y=True)
    return fig


def umi_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The consensus QC columns of the cohort table, sorted by patient and sample."""
    cols = [c for c in UMI_TABLE_COLUMNS if c in summary.columns]
    shown = summary.sort_values(["patient_id", "sample_id"])[cols].reset_index(drop=True)
    for col in cols[2:]:
        shown[col] = pd.to_numeric(shown[col], errors="coerce")
    return shown.replace({np.inf: np.nan})
