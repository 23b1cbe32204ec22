"""The demo run's reports: every page rendered in headless Chromium, the tables beside the pages
equal to the stage tables, the truth comparison equal to one computed here, and Snakemake's own
``--report`` built from the run."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times

from plasmatrack.io import as_bool, read_tsv

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(REPO / "tests" / "browser"))

from chromium import render_page  # noqa: E402

pytestmark = pytest.mark.slow


def _pages(run) -> list[Path]:
    reports = run.results / "reports"
    patients = sorted(read_tsv(run.cohort / "samples.tsv")["patient_id"].unique())
    pages = [reports / "cohort.html"] + [reports / "patients" / f"{p}.html" for p in patients]
    for page in pages:
        assert page.is_file(), f"report page missing: {page}"
    return pages


def test_demo_pages_render_in_chromium(demo_run, chromium, tmp_path):
    shots = Path(os.environ.get("PLASMATRACK_SCREENSHOTS") or tmp_path)
    for page in _pages(demo_run):
        r = render_page(chromium, page, shots / f"demo_{page.stem}.png",
                        full_page=page.stem == "cohort")
        assert r.console_errors == [] and r.page_errors == [], (page, r.console_errors,
                                                                r.page_errors)
        assert r.failed_requests == [] and r.dialogs == []
        assert r.n_plots > 0 and r.undrawn == [], (page, r.undrawn)
        assert page.stat().st_size < 10 * 1024 * 1024


def test_demo_tables_beside_pages_equal_stage_tables(demo_run):
    results = demo_run.results
    tf_path = results / "cnv" / "tumour_fraction.tsv"
    if not tf_path.is_file():
        pytest.skip("the demo run has no copy-number stage yet")
    tf = read_tsv(tf_path)
    for patient, rows in tf.groupby("patient_id"):
        beside = read_tsv(results / "reports" / "patients" / f"{patient}_data"
                          / "tumour_fraction.tsv")
        assert beside["sample_id"].tolist() == rows["sample_id"].tolist()
        assert beside["tumour_fraction"].tolist() == pytest.approx(
            rows["tumour_fraction"].tolist(), abs=1e-6)
    truth = read_tsv(demo_run.truth / "samples.tsv")
    merged = truth[truth["sample_type"] == "plasma"].merge(tf, on="sample_id",
                                                           suffixes=("_truth", ""))
    mae = (merged["tumour_fraction"] - merged["tumour_fraction_truth"]).abs().mean()
    comparison = read_tsv(results / "reports" / "cohort_data" / "truth_comparison.tsv")
    row = comparison[comparison["quantity"].str.startswith("tumour fraction")].iloc[0]
    assert row["n"] == len(merged)
    assert row["value"] == pytest.approx(mae, abs=1e-4)


def test_snakemake_report_zip(demo_run, tmp_path):
    out = tmp_path / "report.zip"
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory",
           str(demo_run.root), "--configfile", str(demo_run.cohort / "config.yaml"),
           "--report", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        index = archive.read(next(n for n in names if n.endswith("report/report.html")))
    assert any(n.endswith("/cohort.html") for n in names)
    patients = read_tsv(demo_run.cohort / "samples.tsv")["patient_id"].unique()
    for patient in patients:
        assert any(n.endswith(f"/{patient}.html") for n in names), patient
    assert len(index) > 10_000


def _summary_text(page: Path) -> str:
    text = page.read_text()
    start = text.index('<section id="summary">')
    section = text[start:text.index("</section>", start)]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", section)).split())


def _months(value: float) -> str:
    """A median or its bound as a sentence says it (an open bound is 'not reached')."""
    return f"{value:.1f}" if value == value and abs(value) != float("inf") else "not reached"


def _all_value(text: str) -> float:
    return float(str(text).split("=", 1)[1])


def test_demo_cohort_summary_states_the_tables(demo_run):
    """Issue 23 on the demo: the summary's numbers are the survival table's (primary analysis:
    TTF by the configured split) and the cohort's median TTF is lifelines' on the clinical sheet."""
    results = demo_run.results
    text = _summary_text(results / "reports" / "cohort.html")
    survival = read_tsv(results / "cohort" / "survival.tsv")
    primary = survival[as_bool(survival["primary"]).fillna(False).astype(bool)]
    assert list(primary["analysis"]) == ["ttf_burden_median"]  # cohort.cutpoint: median
    row = primary.iloc[0]
    if row["hazard_ratio"] == row["hazard_ratio"]:  # a number, not NaN (e.g. separation)
        assert (f"hazard ratio high vs low {row['hazard_ratio']:.2f} (95% CI "
                f"{row['hr_lower']:.2f} to {row['hr_upper']:.2f})") in text
    else:
        assert "hazard ratio not estimable" in text
    assert f"log-rank p = {row['p_value']:.2f}" in text or \
        f"log-rank p = {row['p_value']:.3f}" in text
    assert f"split at {row['cutpoint']:.3f} (median; {int(row['n'])} patients" in text

    clinical = read_tsv(demo_run.cohort / "clinical.tsv")
    kmf = KaplanMeierFitter().fit(clinical["ttf_months"].astype(float),
                                  clinical["ttf_event"].astype(int))
    ci = median_survival_times(kmf.confidence_interval_).iloc[0]
    ttf_all = survival[survival["analysis"] == "ttf_all"].iloc[0]
    assert _all_value(ttf_all["median_survival"]) == pytest.approx(kmf.median_survival_time_,
                                                                   rel=1e-3)
    assert (f"Median time to treatment failure (TTF) was {_months(kmf.median_survival_time_)} "
            f"months (95% CI {_months(ci.iloc[0])} to {_months(ci.iloc[1])}; "
            f"{len(clinical)} patients") in text
    patients = read_tsv(demo_run.cohort / "samples.tsv")["patient_id"].nunique()
    assert f"of {patients} patients had serial plasma" in text


def test_demo_cohort_page_order_first_screen_and_print(demo_run, chromium, tmp_path):
    """Issue 23 on the demo's own cohort page: the summary first and TTF the first survival
    section; the summary inside the first 1300 x 900 screen; the printed page cuts no figure."""
    import shutil

    from test_report_print import EDGES, FIRST_SCREEN, _print, figure_pages

    page_path = demo_run.results / "reports" / "cohort.html"
    ids = re.findall(r'<section id="([^"]+)"', page_path.read_text())
    assert ids[0] == "summary"
    assert [i for i in ids if i.startswith("survival")][0] == "survival-ttf"
    rendered = render_page(chromium, page_path, tmp_path / "first.png",
                           width=FIRST_SCREEN["width"], keep_open=True, full_page=False)
    try:
        box = rendered.page.locator("#summary div.abstract").bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= FIRST_SCREEN["height"], box
    finally:
        rendered.context.close()
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (Debian poppler-utils; `make test` installs it) missing")
    n_figures = len(re.findall(r'<div class="figure">', page_path.read_text()))
    printed = figure_pages(_print(chromium, page_path, tmp_path / "cohort.pdf", EDGES),
                           tmp_path / "pages")
    assert len(printed) == n_figures > 0
    assert [f for f in printed if f[0] != f[1]] == [], printed
