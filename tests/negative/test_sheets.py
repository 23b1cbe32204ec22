"""Every sheet validation error names the file, the row and the column (issue 2 contract)."""

from __future__ import annotations

from pathlib import Path

import pytest

from plasmatrack.errors import InputError
from plasmatrack.sheets import load_clinical, load_samples

HEADER = "sample_id\tpatient_id\tsample_type\ttimepoint_days\tfastq_1\tfastq_2\n"


def _sheet(cohort: Path, body: str, header: str = HEADER) -> Path:
    path = cohort / "bad_samples.tsv"
    path.write_text(header + body)
    return path


def _fq(sid: str) -> str:
    return f"fastq/{sid}_R1.fastq.gz\tfastq/{sid}_R2.fastq.gz"


def _errors(path: Path, **kwargs) -> str:
    with pytest.raises(InputError) as info:
        load_samples(path, **kwargs)
    return str(info.value)


def test_valid_sheet_loads(mini_cohort):
    table = load_samples(mini_cohort / "samples.tsv")
    assert list(table["sample_id"]) == ["PT1_N", "PT1_D1", "PT1_D2"]
    assert table["timepoint_days"].tolist()[1:] == [-3, 42]
    assert Path(table.loc[0, "fastq_1"]).is_absolute()


def test_duplicate_sample_id(mini_cohort):
    path = _sheet(mini_cohort, f"PT1_D1\tPT1\tplasma\t0\t{_fq('PT1_D1')}\n"
                               f"PT1_D1\tPT1\tplasma\t42\t{_fq('PT1_D2')}\n")
    msg = _errors(path)
    assert f"{path}, row 3, column 'sample_id': duplicate sample_id 'PT1_D1' (first on row 2)" in msg


def test_unknown_sample_type(mini_cohort):
    path = _sheet(mini_cohort, f"PT1_D1\tPT1\tplasma\t0\t{_fq('PT1_D1')}\n"
                               f"PT1_N\tPT1\ttumor\t\t{_fq('PT1_N')}\n")
    msg = _errors(path)
    assert f"{path}, row 3, column 'sample_type': unknown sample_type 'tumor'" in msg


def test_patient_without_plasma(mini_cohort):
    path = _sheet(mini_cohort, f"PT1_D1\tPT1\tplasma\t0\t{_fq('PT1_D1')}\n"
                               f"PT2_N\tPT2\tnormal\t\t{_fq('PT1_N')}\n")
    msg = _errors(path)
    assert f"{path}, row 3, column 'patient_id': patient 'PT2' has no plasma sample" in msg


def test_two_plasma_samples_same_timepoint(mini_cohort):
    path = _sheet(mini_cohort, f"PT1_D1\tPT1\tplasma\t7\t{_fq('PT1_D1')}\n"
                               f"PT1_D2\tPT1\tplasma\t7\t{_fq('PT1_D2')}\n")
    msg = _errors(path)
    assert (f"{path}, row 3, column 'timepoint_days': patient 'PT1' has two plasma samples at "
            "day 7 ('PT1_D1' on row 2 and 'PT1_D2')") in msg


def test_missing_read_file(mini_cohort):
    path = _sheet(mini_cohort, "PT1_D1\tPT1\tplasma\t0\tfastq/nope_R1.fq.gz\tfastq/PT1_D1_R2.fastq.gz\n")
    msg = _errors(path)
    assert f"{path}, row 2, column 'fastq_1': file not found: {mini_cohort / 'fastq/nope_R1.fq.gz'}" in msg


@pytest.mark.parametrize("bad", ["PT 1", "PT1;rm", "$(id)", "../etc", "<script>", "PT'1", 'PT"1'])
def test_unsafe_identifiers_rejected(mini_cohort, bad):
    path = _sheet(mini_cohort, f"{bad}\tPT1\tplasma\t0\t{_fq('PT1_D1')}\n")
    msg = _errors(path)
    assert f"{path}, row 2, column 'sample_id': {bad!r} is not a valid identifier" in msg


def test_unsafe_patient_id_rejected(mini_cohort):
    path = _sheet(mini_cohort, f"PT1_D1\ta/b\tplasma\t0\t{_fq('PT1_D1')}\n")
    assert f"{path}, row 2, column 'patient_id': 'a/b' is not a valid identifier" in _errors(path)


def test_non_integer_days(mini_cohort):
    path = _sheet(mini_cohort, f"PT1_D1\tPT1\tplasma\tday3\t{_fq('PT1_D1')}\n")
    assert (f"{path}, row 2, column 'timepoint_days': 'day3' is not a whole number of days"
            in _errors(path))


def test_misspelled_column_hint(mini_cohort):
    header = HEADER.replace("sample_type", "sampel_type")
    path = _sheet(mini_cohort, f"PT1_D1\tPT1\tplasma\t0\t{_fq('PT1_D1')}\n", header=header)
    msg = _errors(path)
    assert "required column 'sample_type' is missing (found 'sampel_type': misspelled?)" in msg


def test_empty_sheet(mini_cohort):
    path = mini_cohort / "empty.tsv"
    path.write_text("")
    assert f"{path}: the sheet is empty (no header line)" in _errors(path)
    path.write_text(HEADER)
    assert f"{path}: the sheet has a header but no rows" in _errors(path)


def test_bom_crlf_comments_whitespace_accepted(mini_cohort):
    body = (f"# a comment\r\nPT1_D1 \tPT1\tplasma\t 0\t{_fq('PT1_D1')}\r\n"
            f"PT1_N\tPT1\tnormal\t\t{_fq('PT1_N')}  \r\n")
    path = mini_cohort / "bom.tsv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER.replace("\n", "\r\n") + body).encode())
    table = load_samples(path)
    assert sorted(table["sample_id"]) == ["PT1_D1", "PT1_N"]


def test_all_problems_reported_at_once(mini_cohort):
    path = _sheet(mini_cohort, f"bad id\tPT1\tplasma\tx\t{_fq('PT1_D1')}\n"
                               f"PT1_N\tPT1\tblood\t\t{_fq('PT1_N')}\n")
    with pytest.raises(InputError) as info:
        load_samples(path)
    assert len(info.value.problems) == 3


CLIN_HEADER = "patient_id\tttf_months\tttf_event\n"


@pytest.mark.parametrize("row,expected", [
    ("PT1\tfour\t1", "row 2, column 'ttf_months': 'four' is not a number"),
    ("PT1\t-2\t1", "row 2, column 'ttf_months': negative time '-2'"),
    ("PT1\t3.5\t2", "row 2, column 'ttf_event': '2' is not an event flag (1 = event, 0 = censored)"),
    ("PT1\t3.5\tyes", "row 2, column 'ttf_event': 'yes' is not an event flag"),
])
def test_clinical_type_errors(mini_cohort, row, expected):
    path = mini_cohort / "clin.tsv"
    path.write_text(CLIN_HEADER + row + "\n")
    with pytest.raises(InputError) as info:
        load_clinical(path)
    assert f"{path}, {expected}" in str(info.value)


def test_clinical_unknown_and_missing_patients_warn(mini_cohort):
    path = mini_cohort / "clin.tsv"
    path.write_text(CLIN_HEADER + "PT9\t3\t1\n")
    result = load_clinical(path, patients={"PT1"})
    assert any("patient 'PT9' has no samples in the sample sheet" in w for w in result.warnings)
    assert any("patient 'PT1' has samples but no clinical row" in w and "left out of survival" in w
               for w in result.warnings)


def test_clinical_bad_response_and_status(mini_cohort):
    path = mini_cohort / "clin.tsv"
    path.write_text("patient_id\tttf_months\tttf_event\tbest_response\ther2_status\n"
                    "PT1\t3\t1\tGOOD\tpositive\n")
    with pytest.raises(InputError) as info:
        load_clinical(path)
    msg = str(info.value)
    assert "row 2, column 'best_response': 'GOOD' is not one of CR, PR, SD, PD, NE" in msg
    assert "row 2, column 'her2_status': 'positive' is not one of amplified, mutant" in msg
