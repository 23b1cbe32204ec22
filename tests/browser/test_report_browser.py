"""Every report page rendered in real headless Chromium: no console error, no uncaught exception,
no network request, every plot container holding a drawn figure, hostile strings shown as text,
the page's controls working. Screenshots are saved (see conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chromium import render_page
from plasmatrack.report.pages import ReportSettings, build_reports
from plasmatrack.report.synthetic import write_synthetic_results

HOSTILE = "<script>alert(1)</script> \"q\" <img src=x onerror=alert(2)>"

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def report_pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser_cohort")
    run = write_synthetic_results(root / "run", n_patients=3, seed=5, hostile_text=HOSTILE)
    written = build_reports(run.stage_data(config={"her2_gene": "ERBB2"}), root / "reports",
                            ReportSettings(table_page_size=5))
    return root / "reports", written


def _assert_clean(rendered):
    assert rendered.console_errors == [], rendered.console_errors
    assert rendered.page_errors == [], rendered.page_errors
    assert rendered.failed_requests == [], rendered.failed_requests
    assert rendered.dialogs == [], f"a script ran: {rendered.dialogs}"
    assert rendered.n_plots > 0
    assert rendered.undrawn == [], f"plot containers without a drawn figure: {rendered.undrawn}"
    assert rendered.n_drawn == rendered.n_plots
    assert rendered.screenshot.is_file() and rendered.screenshot.stat().st_size > 10_000


def test_every_page_renders_every_plot(chromium, report_pages, screenshot_dir):
    out, written = report_pages
    assert len(written) == 4
    titles = {}
    for path in written:
        # full-page screenshots of the cohort page and one patient page (they are slow to take)
        rendered = render_page(chromium, path, screenshot_dir / f"synthetic_{path.stem}.png",
                               full_page=path.stem in ("cohort", "P001"))
        _assert_clean(rendered)
        titles[path.stem] = rendered.titles
    # three patients cannot give a finite hazard-ratio interval, so no forest plot here
    cohort = ["Fragment-length profiles", "QC metrics", "Baseline HER2 ctDNA burden",
              "Baseline HER2 burden by best response", "OS by HER2 burden", "TTF by HER2 burden",
              "Swimmer plot"]
    for prefix in cohort:
        assert any(t.startswith(prefix) for t in titles["cohort"]), (prefix, titles["cohort"])
    assert len(titles["cohort"]) == len(cohort)
    patient = ["Treatment timeline", "Tumour fraction over time", "ERBB2 copy number",
               "Variant allele fractions", "Clone prevalence", "Clone tree",
               "Genome-wide copy number"]
    for i in range(1, 4):
        page = titles[f"P00{i}"]
        assert len(page) == len(patient)
        for title, prefix in zip(page, patient):  # in page order
            assert title.startswith(prefix), (title, prefix)


def test_hostile_strings_display_as_text_and_never_run(chromium, report_pages, screenshot_dir):
    out, _ = report_pages
    rendered = render_page(chromium, out / "patients" / "P001.html",
                           screenshot_dir / "synthetic_P001_hostile.png", keep_open=True,
                           full_page=False)
    try:
        _assert_clean(rendered)
        page = rendered.page
        summary = page.inner_text("dl.summary")
        assert HOSTILE in summary  # shown literally, not parsed
        assert page.evaluate("() => document.querySelectorAll('main script, main img').length") \
            == len(page.query_selector_all(".plotly-graph-div"))  # only plotly's own scripts
        legend = page.evaluate("""() => Array.from(document.querySelectorAll('.legendtext'))
                                  .map(e => e.textContent)""")
        assert any(HOSTILE in text for text in legend)
    finally:
        rendered.context.close()


def _plot_with_buttons(page):
    return page.evaluate("""() => Array.from(document.querySelectorAll('.plotly-graph-div'))
        .filter(d => d.layout.updatemenus && d.layout.updatemenus.length)[0].id""")


def test_vaf_controls_switch_scale_and_categories(chromium, report_pages):
    out, _ = report_pages
    rendered = render_page(chromium, out / "patients" / "P002.html", keep_open=True)
    try:
        page = rendered.page
        gid = _plot_with_buttons(page)
        state = f"document.getElementById('{gid}')"
        hidden = page.evaluate(f"() => {state}.data.filter(t => t.visible === 'legendonly')"
                               ".map(t => t.legendgroup)")
        assert {"germline", "chip"} <= set(hidden)
        page.locator(f"#{gid} .updatemenu-button", has_text="log").click()
        page.wait_for_function(f"() => {state}._fullLayout.yaxis.type === 'log'")
        page.locator(f"#{gid} .updatemenu-button", has_text="all incl. germline").click()
        page.wait_for_function(
            f"() => {state}.data.every(t => t.visible === true || t.visible === undefined)")
        page.locator(f"#{gid} .updatemenu-button", has_text="tumour variants").click()
        page.wait_for_function(
            f"() => {state}.data.filter(t => t.visible === 'legendonly').length === "
            f"{len(hidden)}")
        assert rendered.console_errors == [] and rendered.page_errors == []
    finally:
        rendered.context.close()


def test_long_tables_paginate(chromium, report_pages):
    out, _ = report_pages
    rendered = render_page(chromium, out / "cohort.html", keep_open=True)
    try:
        page = rendered.page
        table = "#" + page.evaluate(
            "() => Array.from(document.querySelectorAll('table.paged'))"
            ".find(t => t.tBodies[0].rows.length === 12).id")
        visible = f"() => Array.from(document.querySelectorAll('{table} tbody tr'))" \
                  ".filter(r => r.style.display !== 'none').map(r => r.cells[0].textContent)"
        first = page.evaluate(visible)
        assert len(first) == 5
        pager = page.locator(f'div.pager[data-for="{table[1:]}"]')
        assert "page 1 of 3 (12 rows)" in pager.inner_text()
        pager.locator("button", has_text="next").click()
        second = page.evaluate(visible)
        assert len(second) == 5 and not set(first) & set(second)
        # patient links lead to pages that exist
        hrefs = page.evaluate("() => Array.from(document.querySelectorAll('a[href$=\".html\"]'))"
                              ".map(a => a.getAttribute('href'))")
        assert sorted(hrefs) == [f"patients/P00{i}.html" for i in range(1, 4)]
        assert all((Path(out) / h).is_file() for h in hrefs)
    finally:
        rendered.context.close()
