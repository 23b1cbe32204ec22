"""Cohort report figures: pure functions from the cohort's stage tables to plotly figures.

Nothing here reads or writes files. Each function takes the rows it plots and returns a
``plotly.graph_objects.Figure``, or None when there is nothing to draw.

Units: months on survival and swimmer plots (draw days are converted with DAYS_PER_MONTH);
fragment lengths in bp; fractions as fractions 0-1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..sheets import BEST_RESPONSES
from ..units import DAYS_PER_MONTH, nice_step
from .mrd_figures import add_swimmer_traces as add_mrd_swimmer
from .plotting import PALETTE, RESPONSE_COLOURS, apply_layout, error_bars, esc, float_or_none, \
    format_int, format_p
from ..io import as_bool
from .summary import is_data_chosen

RESPONSE_ORDER = [*BEST_RESPONSES, "unknown"]  # the sheet's categories, then a missing response


def _response_labels(values: pd.Series) -> pd.Series:
    """Best responses as text, a missing or empty one as 'unknown'."""
    return values.fillna("unknown").replace("", "unknown").astype(str)


def _burden_responses(burden: pd.DataFrame, response: pd.Series | None) -> pd.DataFrame:
    """patient_id, her2_burden and best_response ('unknown' where missing): from ``response``
    (indexed by patient) when given, else from the burden table's own column."""
    df = burden[["patient_id", "her2_burden"]].copy()
    if response is not None:
        df["best_response"] = df["patient_id"].map(response)
    elif "best_response" in burden:
        df["best_response"] = burden["best_response"].to_numpy()
    else:
        df["best_response"] = None
    df["best_response"] = _response_labels(df["best_response"])
    return df


def _response_categories(responses: pd.Series) -> list[str]:
    """The responses present, in RESPONSE_ORDER, then any others sorted."""
    present = set(responses)
    return [r for r in RESPONSE_ORDER if r in present] + sorted(present - set(RESPONSE_ORDER))


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
    return apply_layout(fig, "Fragment-length profiles (red: QC failure)", height=420)


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
    return apply_layout(fig, "QC metrics of all samples (red: failed QC)",
                        height=300 * rows + 60)


def burden_waterfall(burden: pd.DataFrame | None, response: pd.Series | None = None,
                     label_limit: int = 60) -> go.Figure | None:
    """Baseline HER2 burden per patient, sorted high to low, bars coloured by best response.

    burden: her2_burden.tsv (patient_id, her2_burden[, best_response]); ``response`` (indexed by
    patient) overrides the table's best_response. Patient names on the axis up to
    ``label_limit`` patients (hover beyond)."""
    if burden is None or burden.empty:
        return None
    df = _burden_responses(burden, response)
    df = df.sort_values(["her2_burden", "patient_id"], ascending=[False, True],
                        na_position="last")
    order = [esc(p) for p in df["patient_id"]]
    fig = go.Figure()
    for resp in _response_categories(df["best_response"]):
        part = df[df["best_response"] == resp]
        fig.add_trace(go.Bar(x=[esc(p) for p in part["patient_id"]], y=part["her2_burden"],
                             name=esc(resp), marker_color=RESPONSE_COLOURS.get(resp, "#607d8b"),
                             hovertemplate="%{x}: burden %{y:.3g}<extra>" + esc(resp)
                             + "</extra>"))
    fig.update_xaxes(categoryorder="array", categoryarray=order,
                     showticklabels=len(order) <= label_limit, title_text="patient")
    fig.update_yaxes(title_text="baseline HER2 burden")
    return apply_layout(fig, "Baseline HER2 ctDNA burden by best response", height=420,
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
        cens = _censored_rows(g)
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
    fig.update_yaxes(title_text="event-free", range=[0, 1.05], row=1, col=1)
    fig.update_yaxes(title_text="at risk", row=2, col=1, showgrid=False,
                     range=[-0.6, len(groups) - 0.4])
    fig.update_xaxes(title_text=time_unit, tickvals=ticks, row=2, col=1)
    fig.update_xaxes(tickvals=ticks, row=1, col=1)
    return apply_layout(fig, _km_title(analysis, stats), height=460)


def _censored_rows(g: pd.DataFrame) -> list[int]:
    """Row positions of one group's censoring ticks: an observed time at which the curve does
    not drop but the risk set shrinks (from the censored counts where given)."""
    if "censored" in g and g["censored"].notna().any():
        return list(np.flatnonzero((g["censored"].fillna(0) > 0).to_numpy()))
    # without counts: an observed time at which the curve does not drop
    surv = g["survival"].to_numpy(float)
    risk = g["at_risk"].to_numpy(float)
    cens = [j for j in range(1, len(g))
            if surv[j] == surv[j - 1] and g["time"].iloc[j] > 0]
    if len(g) and risk[-1] > 0 and (len(g) < 2 or surv[-1] == surv[-2]):
        cens.append(len(g) - 1)
    return sorted(set(cens))


def _km_title(analysis: str, stats: Mapping | None) -> str:
    """'<analysis>: Kaplan-Meier (log-rank p = ..., HR ... (lo-hi))' from a survival.tsv row."""
    title = f"{esc(analysis)}: Kaplan-Meier"
    if not stats:
        return title
    # "Adjusted" only for a cut chosen from the data (maxstat): its own p is over-optimistic and
    # the table's p_value_adjusted is the selection-adjusted one. For a pre-specified cut
    # p_value_adjusted merely repeats p_value, and calling it adjusted would mislead.
    adjusted = float_or_none(stats.get("p_value_adjusted"))
    if is_data_chosen(dict(stats)) and adjusted is not None:
        title += (" (exploratory, data-chosen cut: cut-point-adjusted log-rank p = "
                  f"{format_p(adjusted)}")
    else:
        title += f" (log-rank p = {format_p(stats.get('p_value'))}"
    hr = float_or_none(stats.get("hazard_ratio"))
    if hr is not None:
        lo, hi = float_or_none(stats.get("hr_lower")), float_or_none(stats.get("hr_upper"))
        if _estimable_hr(hr, lo, hi):
            title += f", HR {hr:.2f} ({lo:.2f}-{hi:.2f})"
        else:
            title += ", HR not estimable"
    return title + ")"


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
    ok = [_estimable_hr(float_or_none(h), float_or_none(lo), float_or_none(hi)) for h, lo, hi in
          zip(has_hr["hazard_ratio"], has_hr["hr_lower"], has_hr["hr_upper"])]
    df = has_hr[ok]
    dropped = len(has_hr) - len(df)
    if df.empty:
        return None
    df = df.iloc[::-1]
    labels = [f"{esc(a)} [{esc(e)}]" for a, e in zip(df["analysis"], df["endpoint"])]
    text = [f"HR {h:.2f} ({lo:.2f}-{hi:.2f}), p {format_p(p)}, n={format_int(n)}"
            for h, lo, hi, p, n in zip(df["hazard_ratio"], df["hr_lower"].fillna(np.nan),
                                       df["hr_upper"].fillna(np.nan), df["p_value"], df["n"])]
    fig = go.Figure(go.Scatter(
        x=df["hazard_ratio"], y=labels, mode="markers",
        marker=dict(symbol="square", size=11, color="#1f77b4"),
        error_x=error_bars(df["hazard_ratio"], df["hr_lower"], df["hr_upper"]),
        text=text, hovertemplate="%{y}<br>%{text}<extra></extra>", showlegend=False))
    fig.add_vline(x=1, line=dict(color="#455a64", dash="dash", width=1))
    fig.update_xaxes(type="log", title_text="hazard ratio (log scale)")
    title = "Cox models: hazard ratios with 95% intervals"
    if dropped:
        title += f" ({dropped} not estimable, not drawn)"
    return apply_layout(fig, title, height=max(240, 50 * len(df) + 120),
                        margin=dict(l=260, r=30, t=60, b=50))


def swimmer_plot(clinical: pd.DataFrame | None, draws: pd.DataFrame,
                 tf: pd.DataFrame | None = None, label_limit: int = 60,
                 mrd: pd.DataFrame | None = None) -> go.Figure | None:
    """Swimmer plot: one lane per patient, bar to TTF (months; colour = best response), X at
    treatment failure, arrow when censored, ctDNA draws as markers (filled = tumour DNA detected
    by copy number, open = not detected, grey = not assessed).

    clinical: patient_id, ttf_months, ttf_event[, best_response]; draws: sample_id, patient_id,
    timepoint_days (plasma); tf: tumour_fraction.tsv (optional); mrd: mrd_calls.tsv (optional:
    stars mark the draws the pooled residual-disease call detected, open stars the others)."""
    if clinical is None or clinical.empty or "ttf_months" not in clinical:
        return None
    cl = clinical[clinical["ttf_months"].notna()].copy()
    if cl.empty:
        return None
    cl["best_response"] = (cl["best_response"] if "best_response" in cl else None)
    cl["best_response"] = _response_labels(cl["best_response"])
    cl = cl.sort_values(["ttf_months", "patient_id"], ascending=[True, True])
    order = [esc(p) for p in cl["patient_id"]]
    fig = go.Figure()
    for resp in _response_categories(cl["best_response"]):
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
    add_mrd_swimmer(fig, draws, mrd, set(cl["patient_id"]))
    fig.add_vline(x=0, line=dict(color="#455a64", width=1))
    fig.update_yaxes(categoryorder="array", categoryarray=order,
                     showticklabels=len(order) <= label_limit, title_text="patient")
    fig.update_xaxes(title_text="months from treatment start")
    return apply_layout(fig, "Swimmer plot: time to treatment failure with ctDNA draws",
                        height=min(3200, max(320, 16 * len(order) + 140)),
                        barmode="overlay")


def burden_by_response(burden: pd.DataFrame | None, response: pd.Series | None = None,
                       stats: Mapping | None = None) -> go.Figure | None:
    """Baseline HER2 burden per best-response category (box + every patient as a point)."""
    if burden is None or burden.empty:
        return None
    if response is None and "best_response" not in burden:
        return None
    df = _burden_responses(burden, response)
    df = df[df["her2_burden"].notna()]
    if df.empty:
        return None
    cats = _response_categories(df["best_response"])
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
        title += f" ({esc(test or 'test')} p = {format_p(stats.get('p_value'))})"
    fig.update_xaxes(categoryorder="array", categoryarray=[esc(c) for c in cats],
                     title_text="best response")
    fig.update_yaxes(title_text="baseline HER2 burden")
    return apply_layout(fig, title, height=400, showlegend=False)


def relatedness_heatmap(pairs: pd.DataFrame | None) -> go.Figure | None:
    """Relatedness of every pair of samples (qc identity.tsv), samples in patient order; a
    block of ~1 along the diagonal per patient, cells against the sheet outlined in the hover
    text (issue 22, docs/qc.md "Sample identity and contamination")."""
    if pairs is None or pairs.empty:
        return None
    names = pd.concat([pairs[["sample_a", "patient_a"]].set_axis(["s", "p"], axis=1),
                       pairs[["sample_b", "patient_b"]].set_axis(["s", "p"], axis=1)])
    order = names.drop_duplicates("s").sort_values(["p", "s"])["s"].tolist()
    index = {s: k for k, s in enumerate(order)}
    n = len(order)
    z = np.full((n, n), np.nan)
    text = np.full((n, n), "", dtype=object)
    np.fill_diagonal(z, 1.0)
    for row in pairs.itertuples(index=False):
        i, j = index[row.sample_a], index[row.sample_b]
        z[i, j] = z[j, i] = row.relatedness
        text[i, j] = text[j, i] = (f"{esc(row.sample_a)} ({esc(row.patient_a)}) vs "
                                   f"{esc(row.sample_b)} ({esc(row.patient_b)})<br>relatedness "
                                   f"{row.relatedness:.2f} at {row.informative_sites} sites"
                                   f"<br>{esc(row.verdict)}")
    wrong = pairs["verdict"].isin(["mismatch", "unexpected_match"]).sum()
    fig = go.Figure(go.Heatmap(z=z, x=order, y=order, text=text, hoverinfo="text", zmin=-1,
                               zmax=1, colorscale="RdBu", colorbar={"title": "relatedness"}))
    apply_layout(fig, title=f"Sample relatedness: {wrong} pair(s) disagree with the sheet",
                 height=max(400, 18 * n + 150))
    fig.update_yaxes(autorange="reversed")
    return fig
