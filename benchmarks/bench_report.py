"""Report benchmark: page size, build time and browser render time, for a demo-sized and a
200-patient cohort, against a named baseline on the same machine in the same run.

Baseline: plotly's own ``Figure.write_html(include_plotlyjs=True)`` for the same figures, one
self-contained file per figure (what a report without page assembly would write). Ratios are
ours / baseline: assembly time (figure HTML, template, writing the page and its TSVs) against
write_html of the same figure objects, and bytes on disk. The build time (reading the tables and
making the figures too) is printed beside.

Stage tables come from ``plasmatrack.report.synthetic`` (realistic tables in the published
layout), or from a finished run with ``--results`` (e.g. the demo). Render time: from navigation
until every plot container has drawn, in headless Chromium (/usr/bin/chromium), median of
``--repeats`` loads.

    .venv/bin/python benchmarks/bench_report.py                      # 8 and 200 patients
    .venv/bin/python benchmarks/bench_report.py --results demo/results \
        --samples demo/cohort/samples.tsv --clinical demo/cohort/clinical.tsv
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(REPO / "tests" / "browser"))

from plasmatrack.report import pages as P  # noqa: E402
from plasmatrack.report.sources import Sources, StageData  # noqa: E402
from plasmatrack.report.synthetic import write_synthetic_results  # noqa: E402


class _Recorder(P.Page):
    """A Page that keeps its figures (so the baseline writes the same ones) and times its own
    assembly: figure HTML + template + writing the page and its TSVs."""

    figures: list = []
    assembly = 0.0

    def figure(self, blocks, fig, *args, **kwargs):
        if fig is not None:
            _Recorder.figures.append(fig)
        start = time.perf_counter()
        out = super().figure(blocks, fig, *args, **kwargs)
        _Recorder.assembly += time.perf_counter() - start
        return out

    def write(self):
        start = time.perf_counter()
        out = super().write()
        _Recorder.assembly += time.perf_counter() - start
        return out


def _build(kind: str, data: StageData, out: Path, patient: str | None = None):
    """Build one page; return (seconds, assembly seconds, path, figures)."""
    _Recorder.figures = []
    _Recorder.assembly = 0.0
    original = P.Page
    P.Page = _Recorder
    try:
        start = time.perf_counter()
        if kind == "cohort":
            path = P.build_cohort_page(data, out / "cohort.html")
        else:
            path = P.build_patient_page(data, patient, out / "patients" / f"{patient}.html")
        seconds = time.perf_counter() - start
    finally:
        P.Page = original
    return seconds, _Recorder.assembly, path, list(_Recorder.figures)


def _baseline(figures, out: Path) -> tuple[float, int]:
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i, fig in enumerate(figures):
        fig.write_html(out / f"figure_{i}.html", include_plotlyjs=True, full_html=True)
    seconds = time.perf_counter() - start
    return seconds, sum(p.stat().st_size for p in out.glob("*.html"))


def _render_times(paths: list[Path], repeats: int) -> dict[Path, tuple[float, int, int]]:
    from chromium import browser_executable, launch, render_page

    if browser_executable() is None:
        print("no headless browser: render times skipped")
        return {}
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        browser = launch(p)
        try:
            for path in paths:
                times, last = [], None
                for _ in range(repeats):
                    last = render_page(browser, path)
                    times.append(last.seconds)
                    if last.console_errors or last.page_errors or last.undrawn:
                        raise SystemExit(f"{path}: render problems {last.console_errors} "
                                         f"{last.page_errors} {last.undrawn}")
                out[path] = (statistics.median(times), last.n_plots, last.n_drawn)
        finally:
            browser.close()
    return out


def bench(label: str, data: StageData, out: Path, n_patient_pages: int, repeats: int) -> list:
    rows = []
    patients = data.patients()[:n_patient_pages]
    builds = [("cohort", None)] + [("patient", p) for p in patients]
    results = []
    for kind, patient in builds:
        seconds, assembly, path, figures = _build(kind, data, out, patient)
        base_s, base_bytes = _baseline(figures, out / "baseline" / (patient or "cohort"))
        results.append((kind, patient, seconds, assembly, path, len(figures), base_s,
                        base_bytes))
    renders = _render_times([r[4] for r in results], repeats)
    for kind, patient, seconds, assembly, path, n_fig, base_s, base_bytes in results:
        size = path.stat().st_size
        render = renders.get(path, (float("nan"), 0, 0))
        rows.append((label, kind if kind == "cohort" else f"patient {patient}", n_fig,
                     size / 1e6, seconds, assembly, base_s, assembly / base_s,
                     base_bytes / 1e6, size / base_bytes, render[0]))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", help="results folder of a finished run (instead of synthetic)")
    ap.add_argument("--samples")
    ap.add_argument("--clinical")
    ap.add_argument("--genes")
    ap.add_argument("--sizes", default="8,200", help="synthetic cohort sizes (patients)")
    ap.add_argument("--patient-pages", type=int, default=3,
                    help="patient pages built and rendered per cohort")
    ap.add_argument("--repeats", type=int, default=3, help="browser loads per page (median)")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_report_") as tmp:
        tmp = Path(tmp)
        if args.results:
            data = StageData(Sources.from_results_dir(args.results, samples_sheet=args.samples,
                                                      clinical_sheet=args.clinical,
                                                      genes_bed=args.genes))
            label = f"run ({len(data.patients())} patients)"
            rows += bench(label, data, tmp / "run", args.patient_pages, args.repeats)
        else:
            for n in [int(x) for x in args.sizes.split(",")]:
                start = time.perf_counter()
                run = write_synthetic_results(tmp / f"synthetic_{n}", n_patients=n, seed=1)
                print(f"synthetic tables for {n} patients written in "
                      f"{time.perf_counter() - start:.1f} s")
                data = StageData(Sources.from_results_dir(run.results, samples_sheet=run.samples,
                                                          clinical_sheet=run.clinical,
                                                          genes_bed=run.genes_bed))
                rows += bench(f"synthetic {n} patients", data, tmp / f"pages_{n}",
                              args.patient_pages, args.repeats)
    header = ("cohort", "page", "figures", "page MB", "build s (tables+figures+page)",
              "assembly s", "baseline write_html s", "assembly ratio", "baseline MB",
              "size ratio", "render s (median)")
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.2f} | {r[4]:.2f} | {r[5]:.2f} | {r[6]:.2f} | "
              f"{r[7]:.2f} | {r[8]:.1f} | {r[9]:.3f} | {r[10]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
