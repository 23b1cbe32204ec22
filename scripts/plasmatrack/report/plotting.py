"""What every report figure shares: colours, the white template, escaping and number formatting.

Used by ``patient_figures``, ``cohort_figures`` and ``pages``; nothing here reads or writes files.
Every user-supplied string that reaches a figure (gene names, protein changes, responses,
labels) goes through :func:`esc`, because plotly renders a subset of HTML in text.
"""

from __future__ import annotations

import html
import math

import pandas as pd
import plotly.graph_objects as go

RESPONSE_COLOURS = {"CR": "#1a7837", "PR": "#5aae61", "SD": "#e0a526", "PD": "#c2185b",
                    "NE": "#9e9e9e", "unknown": "#cfcfcf"}
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


def float_or_none(value) -> float | None:
    """``value`` as a float; None when it is missing, NaN or not a number."""
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


def apply_layout(fig: go.Figure, title: str, height: int = 380, **kwargs) -> go.Figure:
    """The report's title, size, template, font and margins on ``fig`` (returned); ``kwargs``
    go to ``update_layout``, a ``margin`` dict is merged into the default margins."""
    margin = {**dict(l=70, r=30, t=60, b=50), **kwargs.pop("margin", {})}
    fig.update_layout(title=dict(text=title, x=0.01, xanchor="left"), height=height,
                      template=_TEMPLATE, font=_FONT, margin=margin,
                      legend=dict(groupclick="toggleitem"), **kwargs)
    return fig


def error_bars(values: pd.Series, lower: pd.Series, upper: pd.Series) -> dict:
    """Asymmetric error bars from interval bounds (missing bounds -> no bar)."""
    plus = (upper - values).clip(lower=0).fillna(0).to_numpy()
    minus = (values - lower).clip(lower=0).fillna(0).to_numpy()
    return dict(type="data", symmetric=False, array=plus, arrayminus=minus, thickness=1.2,
                width=4)


def format_p(p) -> str:
    """A p-value as every page prints it (figure titles, forest plot, summary sentences): the
    published style of the seed's sources ('0.0074', '0.034', '0.418', '< 0.0001'); 'n/a' when
    missing."""
    v = float_or_none(p)
    if v is None:
        return "n/a"
    return "< 0.0001" if v < 1e-4 else f"{v:.2g}" if v < 0.01 else f"{v:.3f}"


def format_int(value) -> str:
    """A count for display: the integer, or '?' when missing."""
    v = float_or_none(value)
    return "?" if v is None else str(int(v))
