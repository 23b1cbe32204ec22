"""The study summary on the cohort page and the patient pages (issue 23): its figures equal the
survival and burden tables the cohort stage wrote, TTF and the pre-specified analysis come
first, 'adjusted' is said only of data-chosen cuts, `report --pdf` says when it needs Chromium."""

from __future__ import annotations

import html
import math
import re

import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from lifelines.utils import median_survival_times

from plasmatrack.cli import main
from plasmatrack.report.plotting import format_p
from plasmatrack.io import as_bool, read_tsv
from plasmatrack.report.cohort_figures import km_plot
from plasmatrack.report.pages import ReportSettings, build_cohort_page, build_reports
from plasmatrack.report.sources import Sources, StageData
from plasmatrack.report.summary import study_summary
from plasmatrack.report.synthetic import write_synthetic_results

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """10 synthetic patients whose burden groups and survival tables are the cohort stage's."""
    root = tmp_path_factory.mktemp("summary")
    run = write_synthetic_results(root / "run", n_patients=10, seed=7, stage_survival=True)
    written = build_reports(run.stage_data(), root / "reports", ReportSettings())
    return run, {p.stem: p.read_text() for p in written}


def _section(page: str, sid: str) -> str:
    start = page.index(f'<section id="{sid}">')
    return page[start:page.index("</section>", start)]


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def _groups(text: str) -> dict[str, float]:
    """'high=3.2;low=NR' as the test reads it (NR: not reached)."""
    return {k: (math.nan if v == "NR" else float(v))
            for k, v in (part.split("=") for part in str(text).split(";"))}


def test_summary_figures_equal_the_survival_and_burden_tables(cohort):
    run, pages = cohort
    survival = read_tsv(run.results / "cohort" / "survival.tsv")
    burden = read_tsv(run.results / "cohort" / "her2_burden.tsv")
    erbb2 = read_tsv(run.results / "cnv" / "erbb2.tsv")
    text = " ".join(_text(_section(pages["cohort"], "summary")).split())
    print(text)

    primary = survival[as_bool(survival["primary"]).fillna(False).astype(bool)]
    assert list(primary["analysis"]) == ["ttf_burden_median"]  # TTF, the configured split
    row = primary.iloc[0]
    hr = f"hazard ratio high vs low {row['hazard_ratio']:.2f} (95% CI {row['hr_lower']:.2f} " \
         f"to {row['hr_upper']:.2f})"
    assert hr in text
    # the same p text as the Kaplan-Meier figure's title on the same page
    assert f"log-rank p = {format_p(row['p_value'])}" in text
    med, lo, hi = (_groups(row[c])
                   for c in ("median_survival", "median_lower", "median_upper"))
    n = _groups(row["groups"])
    for group in ("high", "low"):
        assert (f"median TTF with {group} burden {med[group]:.1f} months (95% CI "
                f"{lo[group]:.1f} to {hi[group]:.1f}; n = {n[group]:.0f})") in text
    assert (f"split at {row['cutpoint']:.3f} (median; {int(row['n'])} patients, "
            f"{int(row['events'])} events)") in text

    # the cohort's medians: the all-patients rows, which equal lifelines on the clinical sheet
    clinical = read_tsv(run.clinical)
    for endpoint, name in (("ttf", "time to treatment failure (TTF)"),
                           ("os", "overall survival (OS)")):
        allrow = survival[survival["analysis"] == f"{endpoint}_all"].iloc[0]
        kmf = KaplanMeierFitter().fit(clinical[f"{endpoint}_months"].astype(float),
                                      clinical[f"{endpoint}_event"].astype(int))
        ci = median_survival_times(kmf.confidence_interval_).iloc[0]
        assert _groups(allrow["median_survival"])["all"] == pytest.approx(
            kmf.median_survival_time_, rel=1e-3)
        assert _groups(allrow["median_lower"])["all"] == pytest.approx(ci.iloc[0], rel=1e-3)
        assert (f"Median {name} was {kmf.median_survival_time_:.1f} months (95% CI "
                f"{ci.iloc[0]:.1f} to {ci.iloc[1]:.1f}; {len(clinical)} patients, "
                f"{int(clinical[f'{endpoint}_event'].astype(int).sum())} events)") in text

    # k of n amplified: HER2-amplified patients (clinical status), baseline and any draw
    amp = burden[burden["her2_status"] != "mutant"]
    k_base, n_base = int(as_bool(amp["erbb2_amplified"]).sum()), len(amp)
    e = erbb2[erbb2["patient_id"].isin(amp["patient_id"])]
    any_draw = as_bool(e["amplified"]).groupby(e["patient_id"].to_numpy()).any()
    assert (f"ERBB2 amplification was detected in ctDNA in {k_base} of {n_base} "
            f"({100 * k_base / n_base:.0f}%) at baseline and in {int(any_draw.sum())} of "
            f"{len(any_draw)}") in text
    assert 0 < k_base <= any_draw.sum() < len(any_draw) + 1
    mutant = set(burden.loc[burden["her2_status"] == "mutant", "patient_id"])
    variants = read_tsv(run.results / "variants" / "tracked_variants.tsv")
    found = set(variants.loc[(variants["gene"] == "ERBB2") & (variants["status"] == "detected")
                             & (variants["category"] == "somatic"), "patient_id"]) & mutant
    assert (f"In HER2-mutant patients, the ERBB2 mutation was detected in ctDNA in "
            f"{len(found)} of {len(mutant)} ({100 * len(found) / len(mutant):.0f}%) at any "
            "draw.") in text
    assert "10 of 10 patients had serial plasma" in text


def test_summary_is_the_first_section_and_ttf_the_first_survival_section(cohort):
    _, pages = cohort
    ids = re.findall(r'<section id="([^"]+)"', pages["cohort"])
    assert ids[0] == "summary"
    survival_ids = [i for i in ids if i.startswith("survival")]
    assert survival_ids == ["survival-ttf", "survival-os", "survival"]
    ttf = _section(pages["cohort"], "survival-ttf")
    order = re.findall(r"km_(ttf_[a-z_]+)\.tsv", ttf)
    # the pre-specified (primary) split first, the data-chosen cut after it, labelled
    assert order[0] == "ttf_burden_median"
    assert order.index("ttf_burden_maxstat") > 0
    captions = re.findall(r'<p class="caption">([^<]*)<a href="cohort_data/km_(\w+)\.tsv"', ttf)
    labelled = {name for caption, name in captions if caption.startswith("Exploratory")}
    assert labelled == {"ttf_burden_maxstat"}
    # every summary sentence links to a section of the page and (where named) a TSV beside it
    links = re.findall(r'<a class="src" href="([^"]+)"', _section(pages["cohort"], "summary"))
    assert {h[1:] for h in links if h.startswith("#")} <= set(ids)
    assert {h for h in links if not h.startswith("#")} <= {
        f"cohort_data/{n}.tsv" for n in ("patients", "her2_burden", "survival", "dynamics")}


def test_adjusted_is_said_only_of_data_chosen_cuts(cohort):
    run, _ = cohort
    survival = read_tsv(run.results / "cohort" / "survival.tsv")
    curves = read_tsv(run.results / "cohort" / "km_curves.tsv")
    checked = 0
    for rec in survival[survival["analysis"].isin(curves["analysis"])].to_dict("records"):
        title = km_plot(curves, rec["analysis"], rec).layout.title.text
        chosen = rec["cut_selection"] == "data-chosen"
        assert ("adjusted" in title) == chosen, (rec["analysis"], title)
        assert ("exploratory" in title) == chosen
        checked += 1
    assert checked >= 4  # median and maxstat splits of TTF and OS at least


def test_small_cohort_caveat_is_quoted_from_the_table(tmp_path):
    run = write_synthetic_results(tmp_path / "run", n_patients=6, seed=3, stage_survival=True)
    page = build_cohort_page(run.stage_data(), tmp_path / "cohort.html").read_text()
    survival = read_tsv(run.results / "cohort" / "survival.tsv")
    row = survival[survival["analysis"] == "ttf_burden_median"].iloc[0]
    assert as_bool(pd.Series([row["small_cohort"]])).iloc[0]
    caveat = next(p.strip() for p in row["note"].split(";") if p.strip().startswith("small"))
    assert f"Caveat: {caveat}." in " ".join(_text(_section(page, "summary")).split())


def test_summary_text_from_tables_is_escaped(cohort, tmp_path):
    run, _ = cohort
    burden = read_tsv(run.results / "cohort" / "her2_burden.tsv")
    burden["her2_burden_metric"] = HOSTILE
    results = tmp_path / "results"
    import shutil
    shutil.copytree(run.results, results)
    burden.to_csv(results / "cohort" / "her2_burden.tsv", sep="\t", index=False)
    data = StageData(Sources.from_results_dir(results, samples_sheet=run.samples,
                                              clinical_sheet=run.clinical))
    page = build_cohort_page(data, tmp_path / "cohort.html").read_text()
    summary = _section(page, "summary")
    assert HOSTILE not in summary and html.escape(HOSTILE) in summary
    s = study_summary(data.samples(), data.table("survival"), data.table("her2_burden"),
                      None, None, None)
    assert s.burden_metric == HOSTILE  # the model keeps the value; only the page escapes it


def test_patient_summary_equals_the_patient_rows(cohort):
    run, pages = cohort
    burden = read_tsv(run.results / "cohort" / "her2_burden.tsv").set_index("patient_id")
    tf = read_tsv(run.results / "cnv" / "tumour_fraction.tsv")
    for pid in ("P001", "P003"):
        text = " ".join(_text(pages[pid][pages[pid].index('<div class="abstract">'):]
                              .split("</div>")[0]).split())
        row = burden.loc[pid]
        assert f"HER2 status: {row['her2_status']}" in text
        assert (f"Baseline HER2 ctDNA burden {float(row['her2_burden']):.3g} "
                f"({row['her2_burden_group']} burden group)") in text
        assert f"Time to treatment failure {float(row['ttf_months']):.1f} months" in text
        mine = tf[tf["patient_id"] == pid]
        k = int(as_bool(mine["tf_detected"]).sum())
        assert f"Tumour DNA detected in {k} of {len(mine)} draws" in text


def test_pdf_says_it_needs_chromium(cohort, tmp_path, monkeypatch, capsys):
    run, _ = cohort
    monkeypatch.setenv("PLASMATRACK_CHROMIUM", str(tmp_path / "no-chromium"))
    code = main(["report", "--results", str(run.results), "--samples", str(run.samples),
                 "--clinical", str(run.clinical), "--out", str(tmp_path / "out"), "--pdf",
                 "--patient", "P001"])
    assert code == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "plasmatrack report --pdf needs Chromium" in err
    assert "Install the Debian package chromium" in err and "no-chromium is not a file" in err
    assert (tmp_path / "out" / "cohort.html").is_file()
    assert not list((tmp_path / "out").glob("*.pdf*"))
