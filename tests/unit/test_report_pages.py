"""Report pages: self-contained HTML, escaping, TSVs beside each page, missing stages, errors."""

from __future__ import annotations

import re
import shutil

import pytest
from plotly.offline import get_plotlyjs

from plasmatrack.cli import main
from plasmatrack.errors import InputError
from plasmatrack.io import read_tsv
from plasmatrack.report.pages import ReportSettings, build_cohort_page, build_patient_page, \
    build_reports
from plasmatrack.report.sources import Sources, StageData, read_table
from plasmatrack.report.synthetic import write_synthetic_results

HOSTILE = "<script>alert(1)</script> \"q\" 'a' & $(rm -rf /)"
MAX_PAGE_BYTES = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return write_synthetic_results(tmp_path_factory.mktemp("synthetic"), n_patients=6, seed=3,
                                   hostile_text=HOSTILE)


def _data(run, **kwargs) -> StageData:
    args = dict(samples_sheet=run.samples, clinical_sheet=run.clinical, genes_bed=run.genes_bed)
    args.update(kwargs)
    return StageData(Sources.from_results_dir(run.results, **args))


@pytest.fixture(scope="module")
def pages(run, tmp_path_factory):
    out = tmp_path_factory.mktemp("pages")
    written = build_reports(_data(run, config={"her2_gene": "ERBB2", "note": HOSTILE}), out,
                            ReportSettings())
    return out, written


def _script_free(html: str) -> str:
    """The page without the embedded plotly.js bundle."""
    return html.replace(get_plotlyjs(), "")


def test_every_page_is_self_contained_with_plotly_once(pages):
    out, written = pages
    assert len(written) == 7  # 6 patients + cohort
    bundle = get_plotlyjs()
    for path in written:
        html = path.read_text()
        assert html.count(bundle) == 1, path
        rest = _script_free(html)
        assert not re.search(r"<script[^>]*\bsrc=", rest), path
        assert "<link" not in rest and "@import" not in rest and "@font-face" not in rest
        assert "cdn." not in rest.lower()
        n_divs = len(re.findall(r'class="plotly-graph-div"', rest))
        assert n_divs == rest.count("Plotly.newPlot(") and n_divs >= 5, path
        assert path.stat().st_size < MAX_PAGE_BYTES


def test_user_strings_are_escaped_everywhere(pages):
    out, _ = pages
    for path in [out / "cohort.html", out / "patients" / "P001.html"]:
        rest = _script_free(path.read_text())
        assert "<script>alert(1)" not in rest
        assert "\\u003cscript\\u003ealert" not in rest  # not raw inside figure JSON either
    patient = _script_free((out / "patients" / "P001.html").read_text())
    # cancer type in the summary and the event description in the events table: escaped text
    assert patient.count("&lt;script&gt;alert(1)&lt;/script&gt; &#34;q&#34; &#39;a&#39; &amp; "
                         "$(rm -rf /)") >= 2
    # the protein change inside the VAF figure: escaped for plotly's text renderer
    assert "&lt;script&gt;alert(1)&lt;\\u002fscript&gt; &#34;q&#34;" in patient
    cohort = _script_free((out / "cohort.html").read_text())
    assert "note: &lt;script&gt;alert(1)&lt;/script&gt; &#34;q&#34;" in cohort  # config dump


def test_plotted_tables_are_written_beside_the_page(run, pages):
    out, _ = pages
    for page in [out / "cohort.html", *sorted((out / "patients").glob("*.html"))]:
        html = page.read_text()
        links = re.findall(r'href="([^"]+\.tsv)"', html)
        assert links, page
        for link in links:
            assert (page.parent / link).is_file(), link
    source = read_tsv(run.results / "cnv" / "tumour_fraction.tsv")
    mine = read_tsv(out / "patients" / "P002_data" / "tumour_fraction.tsv")
    expected = source[source["patient_id"] == "P002"]
    assert mine["sample_id"].tolist() == expected["sample_id"].tolist()
    assert mine["tumour_fraction"].tolist() == pytest.approx(expected["tumour_fraction"].tolist())
    burden = read_tsv(out / "cohort_data" / "her2_burden.tsv")
    assert burden["her2_burden"].tolist() == pytest.approx(
        read_tsv(run.results / "cohort" / "her2_burden.tsv")["her2_burden"].tolist())
    for name in ("tracked_variants", "erbb2", "cluster_prevalence", "fish_bands", "tree",
                 "copy_number_bins", "copy_number_segments", "qc", "timeline"):
        assert (out / "patients" / "P001_data" / f"{name}.tsv").is_file(), name
    km = sorted((out / "cohort_data").glob("km_*.tsv"))
    assert len(km) == 2


def test_cohort_page_links_every_patient_and_lists_versions(pages):
    out, _ = pages
    html = (out / "cohort.html").read_text()
    for i in range(1, 7):
        assert f'href="patients/P{i:03d}.html"' in html
    versions = read_tsv(out / "cohort_data" / "versions.tsv")
    assert {"plasmatrack", "snakemake", "cnvkit", "pysam", "plotly", "lifelines"} <= \
        set(versions["tool"])
    assert "log-rank p = " in html


def test_pages_render_when_stages_are_absent(run, tmp_path):
    # a run that has only the QC stage and no clinical sheet
    results = tmp_path / "results"
    shutil.copytree(run.results / "qc", results / "qc")
    data = StageData(Sources.from_results_dir(results, samples_sheet=run.samples))
    patient = _script_free(build_patient_page(data, "P003", tmp_path / "p" / "P003.html")
                           .read_text())
    for table in ("tumour_fraction", "erbb2", "tracked_variants", "cluster_prevalence"):
        assert f"Not available: this run has no {table}" in patient
    assert "has no clinical row" in patient
    assert "copy-number stage has not run" in patient
    cohort = _script_free(build_cohort_page(data, tmp_path / "cohort.html").read_text())
    assert "Not available: this run has no km_curves table" in cohort
    assert "a run without clinical outcomes" in cohort
    assert "no clinical sheet with ttf_months" in cohort
    assert cohort.count("Plotly.newPlot(") == 2  # fragment profiles + QC metrics


def test_patient_without_clinical_row_is_said(run, tmp_path):
    clinical = read_tsv(run.clinical)
    clinical[clinical["patient_id"] != "P004"].to_csv(tmp_path / "clinical.tsv", sep="\t",
                                                      index=False)
    data = _data(run, clinical_sheet=tmp_path / "clinical.tsv")
    html = build_patient_page(data, "P004", tmp_path / "P004.html").read_text()
    assert "has no clinical row" in html
    cohort = build_cohort_page(data, tmp_path / "cohort.html").read_text()
    assert "patient &#39;P004&#39; has samples but no clinical row" in cohort


def test_broken_table_names_file_row_and_column(run, tmp_path):
    tf = read_tsv(run.results / "cnv" / "tumour_fraction.tsv")
    bad = tf.astype({"tumour_fraction": object})
    bad.loc[2, "tumour_fraction"] = "high"
    bad.to_csv(tmp_path / "tf.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"tf\.tsv, row 4, column 'tumour_fraction': 'high' "
                                         r"is not a number"):
        read_table(tmp_path / "tf.tsv", "tumour_fraction")
    tf.drop(columns=["tf_upper"]).to_csv(tmp_path / "tf2.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"tf2\.tsv: missing column\(s\) 'tf_upper'"):
        read_table(tmp_path / "tf2.tsv", "tumour_fraction")
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(InputError, match="empty file"):
        read_table(tmp_path / "empty.tsv", "tree")


def test_cli_writes_selected_pages_and_rejects_unknown_patients(run, tmp_path, capsys):
    args = ["report", "--results", str(run.results), "--samples", str(run.samples),
            "--clinical", str(run.clinical), "--genes", str(run.genes_bed),
            "--out", str(tmp_path / "out")]
    assert main(args + ["--patient", "P005", "--no-cohort"]) == 0
    assert (tmp_path / "out" / "patients" / "P005.html").is_file()
    assert not (tmp_path / "out" / "cohort.html").exists()
    assert main(args + ["--patient", "NOPE"]) == 1
    assert "no samples of patient(s) NOPE" in capsys.readouterr().err


def test_rerun_removes_stale_tables(run, tmp_path):
    data = _data(run)
    page = build_patient_page(data, "P001", tmp_path / "P001.html")
    stale = page.with_name("P001_data") / "old_figure.tsv"
    stale.write_text("x\n1\n")
    build_patient_page(data, "P001", tmp_path / "P001.html")
    assert not stale.exists()


def test_large_cohort_pages_stay_small_and_paginate(tmp_path):
    big = write_synthetic_results(tmp_path / "big", n_patients=45, seed=9)
    data = StageData(Sources.from_results_dir(big.results, samples_sheet=big.samples,
                                              clinical_sheet=big.clinical))
    html = build_cohort_page(data, tmp_path / "cohort.html").read_text()
    assert (tmp_path / "cohort.html").stat().st_size < MAX_PAGE_BYTES
    assert 'class="data paged"' in html  # 180 QC rows -> paged table
    assert "plasma median (135 samples)" in html  # aggregated fragment profiles
    fragments = read_tsv(tmp_path / "cohort_data" / "fragment_lengths.tsv")
    assert fragments["sample_id"].nunique() == 180


def test_clonal_stage_labels_and_tree_notes_are_shown(run, tmp_path):
    tree = read_tsv(run.results / "clonal" / "tree.tsv", dtype=str)
    tree["label"] = ["trunk TP53 R175H" if c == "1" else "" for c in tree["cluster_id"]]
    tree["note"] = ["no tree satisfies the sum rule at day 60; star tree" if c == "1" else ""
                    for c in tree["cluster_id"]]
    tree.to_csv(tmp_path / "tree.tsv", sep="\t", index=False)
    sources = Sources.from_results_dir(run.results, samples_sheet=run.samples,
                                       clinical_sheet=run.clinical)
    sources.tables["tree"] = tmp_path / "tree.tsv"
    html = build_patient_page(StageData(sources), "P002", tmp_path / "P002.html").read_text()
    assert "Clone tree: no tree satisfies the sum rule at day 60; star tree" in html
    assert "clone 1: trunk TP53 R175H" in html


def test_limited_clonal_resolution_is_a_warning_on_the_patient_page(run, tmp_path):
    tree = read_tsv(run.results / "clonal" / "tree.tsv", dtype=str)
    limited = tree["patient_id"] == "P002"
    tree["resolvable_ccf_difference"] = ["0.614" if x else "0.12" for x in limited]
    tree["clonal_resolution"] = ["limited" if x else "resolved" for x in limited]
    tree.to_csv(tmp_path / "tree.tsv", sep="\t", index=False)
    sources = Sources.from_results_dir(run.results, samples_sheet=run.samples,
                                       clinical_sheet=run.clinical)
    sources.tables["tree"] = tmp_path / "tree.tsv"
    data = StageData(sources)
    html = build_patient_page(data, "P002", tmp_path / "P002.html").read_text()
    assert re.search(r'<li class="warn">Limited clonal resolution: clones must differ by about '
                     r"0\.61 in cancer cell fraction in every draw", html)
    other = build_patient_page(data, "P001", tmp_path / "P001.html").read_text()
    assert "Limited clonal resolution" not in other
    cohort = build_cohort_page(data, tmp_path / "cohort.html").read_text()
    assert re.search(r"limited clonal resolution</dt>\s*<dd>1 of 6 patients \(P002\)", cohort)


def test_methods_name_the_segmentation_that_ran():
    import pandas as pd

    from plasmatrack.report.pages import segmentation_sentence

    one = pd.DataFrame({"segment_method": ["haar", "haar", "haar"]})
    assert segmentation_sentence(one) == " Copy-number segments: CNVkit haar (all 3 samples)."
    mixed = pd.DataFrame({"segment_method": ["cbs", "haar", "cbs", None]})
    assert segmentation_sentence(mixed) == (" Copy-number segments: CNVkit cbs (2 samples), "
                                            "haar (1 samples).")
    assert segmentation_sentence(None) == ""
    assert segmentation_sentence(pd.DataFrame({"tumour_fraction": [0.1]})) == ""


def test_tumour_fraction_methods_that_disagree_are_a_patient_page_warning():
    import pandas as pd

    from plasmatrack.report.pages import tf_disagreements

    tf = pd.DataFrame({"sample_id": ["A", "B", "C"], "warning": [
        "flat reference: no normal samples; TF from cn 0.544 (0.287-0.883) and TF from snv "
        "0.182 (0.142-0.231) disagree beyond their intervals", "", None]})
    out = tf_disagreements(tf)
    assert out == ["A: TF from cn 0.544 (0.287-0.883) and TF from snv 0.182 (0.142-0.231) "
                   "disagree beyond their intervals (the combined estimate widens to hold both)"]
    assert tf_disagreements(None) == [] and tf_disagreements(tf.drop(columns="warning")) == []
