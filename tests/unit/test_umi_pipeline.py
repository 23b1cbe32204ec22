"""The umi stage in the pipeline (docs/umi.md, "In the pipeline"): the sheet column umi_mode and the
consensus QC on the cohort page. The rules themselves run in tests/e2e/test_umi_truth.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plasmatrack import tables
from plasmatrack.errors import InputError
from plasmatrack.io import write_tsv
from plasmatrack.report.pages import ReportSettings, build_cohort_page
from plasmatrack.report.sources import Sources, StageData
from plasmatrack.report.synthetic import write_synthetic_results
from plasmatrack.sheets import load_samples

SHEET = ("sample_id\tpatient_id\tsample_type\ttimepoint_days\tbam{extra_head}\n"
         "P1_N\tP1\tnormal\t\tx.bam{extra_n}\n"
         "P1_D1\tP1\tplasma\t0\tx.bam{extra_d}\n")


def _sheet(tmp_path: Path, head: str = "", n: str = "", d: str = "") -> Path:
    path = tmp_path / "samples.tsv"
    path.write_text(SHEET.format(extra_head=head, extra_n=n, extra_d=d))
    return path


def test_sheet_umi_mode_is_optional_and_kept_per_sample(tmp_path):
    plain = load_samples(_sheet(tmp_path), check_files=False)
    assert list(plain["umi_mode"]) == ["", ""]
    mixed = load_samples(_sheet(tmp_path, "\tumi_mode", "\tnone", "\tduplex"), check_files=False)
    assert dict(zip(mixed["sample_id"], mixed["umi_mode"])) == {"P1_N": "none", "P1_D1": "duplex"}
    empty = load_samples(_sheet(tmp_path, "\tumi_mode", "\t", "\tsingle"), check_files=False)
    assert dict(zip(empty["sample_id"], empty["umi_mode"])) == {"P1_N": "", "P1_D1": "single"}


def test_sheet_umi_mode_error_names_file_row_and_field(tmp_path):
    path = _sheet(tmp_path, "\tumi_mode", "\tduplx", "\tDuplex")
    with pytest.raises(InputError) as err:
        load_samples(path, check_files=False)
    text = str(err.value)
    assert str(path) in text and "umi_mode" in text
    assert "row 2, column 'umi_mode'" in text and "row 3, column 'umi_mode'" in text
    assert "'duplx'" in text and "'Duplex'" in text  # both problems at once


def _umi_tables(run) -> pd.DataFrame:
    """UMI metrics and family-size histograms for every sample of a synthetic run."""
    samples = pd.read_csv(run.samples, sep="\t", dtype=str)
    rng = np.random.default_rng(4)
    rows = []
    for sid, pid in zip(samples["sample_id"], samples["patient_id"]):
        sizes = np.arange(1, 30)
        families = rng.poisson(400 * np.exp(-sizes / 4.0))
        write_tsv(pd.DataFrame(dict(family_size=sizes, families=families)),
                  run.results.parent / tables.UMI_FAMILY_SIZES.path.format(patient=pid,
                                                                           sample=sid))
        molecules = int(families.sum() * 0.6)
        rows.append(dict(sample_id=sid, patient_id=pid, reads=int((sizes * families).sum()),
                         families=int(families.sum()), families_ge2=int(families[1:].sum()),
                         families_ge3=int(families[2:].sum()), molecules=molecules,
                         duplex_molecules=int(molecules * 0.7), duplex_yield=0.7,
                         error_rate_raw=2e-3, error_rate_single=5e-5, error_rate_duplex=0.0))
    summary = pd.DataFrame(rows, columns=tables.UMI_SUMMARY.required)
    write_tsv(summary, run.results.parent / tables.UMI_SUMMARY.path)
    return summary


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return write_synthetic_results(tmp_path_factory.mktemp("umi_report"), n_patients=2, seed=2)


def _page(run, out: Path) -> str:
    data = StageData(Sources.from_results_dir(run.results, samples_sheet=run.samples,
                                              clinical_sheet=run.clinical,
                                              genes_bed=run.genes_bed))
    return build_cohort_page(data, out / "cohort.html", ReportSettings()).read_text()


def test_cohort_page_shows_consensus_qc_only_with_umi_tables(run, tmp_path):
    without = _page(run, tmp_path / "a")
    assert "Consensus QC" not in without
    summary = _umi_tables(run)
    with_umi = _page(run, tmp_path / "b")
    assert with_umi.count("Consensus QC") == 3  # family sizes, duplex yield, the table
    written = pd.read_csv(tmp_path / "b" / "cohort_data" / "umi_summary.tsv", sep="\t")
    assert list(written["sample_id"]) == list(summary["sample_id"])
    sizes = pd.read_csv(tmp_path / "b" / "cohort_data" / "umi_family_sizes.tsv", sep="\t")
    assert set(sizes["sample_id"]) == set(summary["sample_id"])
    assert sizes["families"].sum() == summary["families"].sum()
