"""The residual-disease calls (``mrd_calls.tsv``) on the report's figures: the pooled TF with its
detection status and LoD95 on a patient's tumour-fraction plot, detection by the pooled call on
the cohort's swimmer plot, and the method's sentence for the methods section.

Pure functions on the table's rows (nothing read or written). Units: days (patient plot) or
months (swimmer) from treatment start; TF and LoD as fractions."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ..units import DAYS_PER_MONTH
from .plotting import error_bars, esc

COLOUR = "#d62728"
SYMBOLS = {"detected": "star", "not_detected": "star-open", "not_evaluable": "x-thin-open"}


def add_patient_traces(fig: go.Figure, mrd: pd.DataFrame | None) -> None:
    """The pooled call of each draw (filled star: detected, open: not detected, x: not
    evaluable; 95 % interval) and the draw's LoD95 (dotted) onto a patient's TF figure."""
    if mrd is None or mrd.empty:
        return
    df = mrd.sort_values("timepoint_days")
    text = [f"{esc(s)}: {esc(st)}, p {p:.2g}, LoD95 {lod:.2g}, {int(n)} variants"
            for s, st, p, lod, n in zip(df["sample_id"], df["status"], df["p_value"],
                                        df["lod95"], df["n_variants"])]
    fig.add_trace(go.Scatter(
        x=df["timepoint_days"], y=df["tumour_fraction"], mode="markers",
        name="TF, pooled variants (residual disease; open: not detected)",
        error_y=error_bars(df["tumour_fraction"], df["tf_lower"], df["tf_upper"]),
        marker=dict(size=11, color=COLOUR,
                    symbol=[SYMBOLS.get(s, "x-thin-open") for s in df["status"]]),
        text=text, hovertemplate="%{text}<br>day %{x}, TF %{y:.2g}<extra>pooled</extra>"))
    fig.add_trace(go.Scatter(
        x=df["timepoint_days"], y=df["lod95"], mode="lines+markers",
        name="LoD95 of the pooled call", line=dict(color=COLOUR, dash="dot", width=1),
        marker=dict(size=5, color=COLOUR, symbol="line-ew-open"),
        text=[esc(s) for s in df["sample_id"]],
        hovertemplate="%{text}: LoD95 %{y:.2g}<extra></extra>"))


def add_swimmer_traces(fig: go.Figure, draws: pd.DataFrame, mrd: pd.DataFrame | None,
                       patients: set[str]) -> None:
    """Draws detected by the pooled call as stars above the copy-number markers (open stars:
    not detected by it)."""
    if mrd is None or mrd.empty:
        return
    d = draws[draws["patient_id"].isin(patients)].merge(
        mrd[["sample_id", "status"]], on="sample_id")
    d = d.assign(months=d["timepoint_days"].astype(float) / DAYS_PER_MONTH)
    for status, label in (("detected", "detected by pooled variants"),
                          ("not_detected", "not detected by pooled variants")):
        part = d[d["status"] == status]
        if part.empty:
            continue
        fig.add_trace(go.Scatter(
            x=part["months"], y=[esc(p) for p in part["patient_id"]], mode="markers",
            marker=dict(symbol=SYMBOLS[status], size=11, color=COLOUR), name=label,
            text=[esc(s) for s in part["sample_id"]],
            hovertemplate="%{text}: month %{x:.1f}<extra>" + label + "</extra>"))


def methods_sentence(mrd: pd.DataFrame | None) -> str:
    """The residual-disease method and its calibration, for the methods section ('' without
    calls)."""
    if mrd is None or mrd.empty:
        return ""
    plasma_informed = mrd["note"].fillna("").str.contains("plasma-informed").any()
    design = ("plasma-informed: each draw tested with the somatic variants found in the "
              "patient's other draws" if plasma_informed else
              "tumour-informed: each draw tested with the tumour's variant list")
    return (f" Residual disease per draw ({design}): mutant molecules at all of the patient's "
            "variants pooled in a likelihood-ratio test of one shared tumour fraction against a "
            "per-site background measured on the other people's samples (normals, healthy "
            "plasma, other patients' draws), p-value by Monte Carlo over the background's "
            "uncertainty, detection at p < 0.005 by default; LoD95 = the TF a pooled Poisson "
            "test would detect with 95 % probability at the draw's molecules and background. "
            "Calibrated on two independent simulated regimes (specificity >= 99 % on tumour-free "
            "draws) and on ctDNAtools' real example (docs/mrd.md).")
