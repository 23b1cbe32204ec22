"""The demo run's reports: every page rendered in headless Chromium, the tables beside the pages
equal to the stage tables, the truth comparison equal to one computed here, and Snakemake's own
``--report`` built from the run."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from plasmatrack.io import read_tsv

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
