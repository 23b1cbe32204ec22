"""Reading and validating the sample and clinical sheets.

Every problem is collected (not just the first) and reported with the file, the line number in the
file (``row``) and the column, so a user fixes a sheet in one pass. Sheets are tab-separated, may
carry a UTF-8 BOM, Windows line endings, ``#`` comment lines and stray whitespace around fields; IDs
are always read as strings. Relative file paths are resolved against the sheet's own folder."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from .errors import InputError, where
from .ids import id_problem

SAMPLE_TYPES = ("plasma", "normal")
SAMPLE_COLUMNS = ("sample_id", "patient_id", "sample_type", "timepoint_days")
READ_COLUMNS = ("fastq_1", "fastq_2", "bam")
CLINICAL_REQUIRED = ("patient_id", "ttf_months", "ttf_event")
CLINICAL_OPTIONAL_NUMERIC = ("os_months",)
CLINICAL_OPTIONAL_EVENT = ("os_event",)
BEST_RESPONSES = ("CR", "PR", "SD", "PD", "NE")
EVALUABLE_RESPONSES = BEST_RESPONSES[:4]  # RECIST responses with a measured outcome (not NE)
HER2_STATUSES = ("amplified", "mutant")
UMI_MODES = ("none", "single", "duplex")  # optional sheet column umi_mode (issue 20)


@dataclass
class Sheet:
    """A parsed sheet: header, rows as dicts of stripped strings, and each row's line number."""

    path: Path
    columns: list[str]
    rows: list[dict[str, str]]
    line_numbers: list[int]


@dataclass
class Validated:
    """A validated table plus warnings (problems that do not stop the run)."""

    table: pd.DataFrame
    warnings: list[str] = field(default_factory=list)


def read_sheet(path: str | Path) -> Sheet:
    """Parse a TSV sheet leniently as to formatting (BOM, CRLF, comments, whitespace)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text ({exc})") from None
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    header: list[str] | None = None
    rows: list[dict[str, str]] = []
    numbers: list[int] = []
    problems: list[str] = []
    for lineno, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if header is None:
            header = fields
            dupes = sorted({c for c in header if header.count(c) > 1})
            if dupes:
                problems.append(f"{where(path, lineno)}: duplicate column(s) {', '.join(dupes)}")
            continue
        if len(fields) > len(header):
            if any(f for f in fields[len(header):]):
                problems.append(
                    f"{where(path, lineno)}: {len(fields)} fields but the header has {len(header)}"
                    " (is the sheet tab-separated?)"
                )
                continue
            fields = fields[: len(header)]
        fields += [""] * (len(header) - len(fields))
        rows.append(dict(zip(header, fields)))
        numbers.append(lineno)
    if header is None:
        problems.append(f"{path}: the sheet is empty (no header line)")
    elif not rows:
        problems.append(f"{path}: the sheet has a header but no rows")
    if problems:
        raise InputError(problems)
    return Sheet(path=path, columns=header or [], rows=rows, line_numbers=numbers)


def _require_columns(sheet: Sheet, required: tuple[str, ...], problems: list[str]) -> bool:
    missing = [c for c in required if c not in sheet.columns]
    for col in missing:
        close = [c for c in sheet.columns if c.lower().replace(" ", "_") == col or _near(c, col)]
        hint = f" (found {close[0]!r}: misspelled?)" if close else ""
        problems.append(f"{sheet.path}: required column '{col}' is missing{hint}")
    return not missing


def _near(a: str, b: str) -> bool:
    """Two column names one edit apart (a typo)."""
    a, b = a.lower(), b.lower()
    if abs(len(a) - len(b)) > 1 or a == b:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b)) == 1 or any(
            a[:i] + a[i + 1] + a[i] + a[i + 2:] == b for i in range(len(a) - 1)
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


def _parse_int(value: str) -> int | None:
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number) or number != int(number):
        return None
    return int(number)


def _parse_float(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _resolve(base: Path, value: str) -> Path:
    candidate = Path(value).expanduser()
    return candidate if candidate.is_absolute() else (base / candidate)


def load_samples(path: str | Path, check_files: bool = True) -> pd.DataFrame:
    """Read and validate ``samples.tsv``.

    Columns: sample_id, patient_id, sample_type (plasma|normal), timepoint_days (integer days from
    treatment start; empty for normals), and either fastq_1 + fastq_2 or bam; optional umi_mode
    (none|single|duplex: overrides config umi.mode for the sample; empty: the config's, and the
    column is "" then). Returns a DataFrame
    indexed by nothing, with timepoint_days as pandas Int64 and read paths absolute (empty string
    where not given). Raises InputError listing every problem."""
    sheet = read_sheet(path)
    _require_sample_columns(sheet)
    base = sheet.path.resolve().parent
    problems: list[str] = []
    records = []
    seen_ids: dict[str, int] = {}
    plasma_times: dict[tuple[str, int], tuple[str, int]] = {}
    for row, line in zip(sheet.rows, sheet.line_numbers):
        rec: dict[str, object] = {}
        for col in ("sample_id", "patient_id"):
            why = id_problem(row[col])
            if why:
                problems.append(f"{where(sheet.path, line, col)}: {why}")
            rec[col] = row[col]
        _check_unique_sample(sheet.path, line, row["sample_id"], seen_ids, problems)
        rec["sample_type"] = _sample_type(sheet.path, line, row["sample_type"], problems)
        days = _timepoint(sheet.path, line, row, problems)
        rec["timepoint_days"] = days
        if row["sample_type"] == "plasma" and days is not None:
            _check_plasma_day(sheet.path, line, row, days, plasma_times, problems)
        rec.update(_read_paths(sheet.path, line, row, base, check_files, problems))
        rec["umi_mode"] = _umi_mode(sheet.path, line, row, problems)
        rec["row"] = line
        records.append(rec)
    _check_patients_have_plasma(sheet.path, records, problems)
    if problems:
        raise InputError(problems)
    table = pd.DataFrame.from_records(records)
    table["timepoint_days"] = table["timepoint_days"].astype("Int64")
    return table.sort_values(["patient_id", "sample_type", "timepoint_days", "sample_id"],
                             na_position="first").reset_index(drop=True)


def _require_sample_columns(sheet: Sheet) -> None:
    """Raise InputError unless the sample sheet has its columns and a way to give reads."""
    problems: list[str] = []
    if not _require_columns(sheet, SAMPLE_COLUMNS, problems):
        raise InputError(problems)
    has_fastq = "fastq_1" in sheet.columns or "fastq_2" in sheet.columns
    if not has_fastq and "bam" not in sheet.columns:
        problems.append(f"{sheet.path}: needs columns 'fastq_1' and 'fastq_2', or 'bam'")
        raise InputError(problems)


def _check_unique_sample(path: Path, line: int, sid: str, seen_ids: dict[str, int],
                         problems: list[str]) -> None:
    if sid in seen_ids:
        problems.append(
            f"{where(path, line, 'sample_id')}: duplicate sample_id {sid!r} "
            f"(first on row {seen_ids[sid]})"
        )
    else:
        seen_ids[sid] = line


def _sample_type(path: Path, line: int, stype: str, problems: list[str]) -> str:
    if stype not in SAMPLE_TYPES:
        problems.append(
            f"{where(path, line, 'sample_type')}: unknown sample_type {stype!r} "
            f"(expected one of: {', '.join(SAMPLE_TYPES)})"
        )
    return stype


def _timepoint(path: Path, line: int, row: dict[str, str], problems: list[str]) -> int | None:
    """timepoint_days of a row: whole days, required for plasma; None when empty or invalid."""
    days_text = row["timepoint_days"]
    if days_text == "":
        if row["sample_type"] == "plasma":
            problems.append(
                f"{where(path, line, 'timepoint_days')}: a plasma sample needs "
                "timepoint_days (integer days from treatment start)"
            )
        return None
    days = _parse_int(days_text)
    if days is None:
        problems.append(
            f"{where(path, line, 'timepoint_days')}: {days_text!r} is not a whole "
            "number of days"
        )
    return days


def _check_plasma_day(path: Path, line: int, row: dict[str, str], days: int,
                      plasma_times: dict[tuple[str, int], tuple[str, int]],
                      problems: list[str]) -> None:
    """One plasma draw per patient and day (``plasma_times``: (patient, day) -> (sample, row))."""
    key = (row["patient_id"], days)
    if key in plasma_times:
        other, other_line = plasma_times[key]
        problems.append(
            f"{where(path, line, 'timepoint_days')}: patient {row['patient_id']!r} "
            f"has two plasma samples at day {days} ({other!r} on row {other_line} "
            f"and {row['sample_id']!r})"
        )
    else:
        plasma_times[key] = (row["sample_id"], line)


def _read_paths(path: Path, line: int, row: dict[str, str], base: Path, check_files: bool,
                problems: list[str]) -> dict[str, str]:
    """fastq_1, fastq_2 and bam of a row, resolved against ``base`` ("" where not given)."""
    fq1, fq2, bam = (row.get(c, "") for c in READ_COLUMNS)
    if bam and (fq1 or fq2):
        problems.append(
            f"{where(path, line, 'bam')}: give either fastq_1 + fastq_2 or bam, not both"
        )
    elif not bam and not (fq1 and fq2):
        col = "fastq_2" if fq1 else "fastq_1"
        problems.append(
            f"{where(path, line, col)}: no reads: give fastq_1 and fastq_2, or bam"
        )
    paths = {}
    for col, value in (("fastq_1", fq1), ("fastq_2", fq2), ("bam", bam)):
        if not value:
            paths[col] = ""
            continue
        resolved = _resolve(base, value)
        if check_files and not resolved.is_file():
            problems.append(f"{where(path, line, col)}: file not found: {resolved}")
        paths[col] = str(resolved)
    return paths


def _umi_mode(path: Path, line: int, row: dict[str, str], problems: list[str]) -> str:
    """The row's optional umi_mode ("" when the column is absent or the field empty)."""
    mode = row.get("umi_mode", "")
    if mode and mode not in UMI_MODES:
        problems.append(f"{where(path, line, 'umi_mode')}: unknown umi_mode {mode!r} "
                        f"(expected one of: {', '.join(UMI_MODES)}, or empty for the config's "
                        "umi.mode)")
    return mode


def _check_patients_have_plasma(path: Path, records: list[dict], problems: list[str]) -> None:
    patients = {r["patient_id"] for r in records}
    with_plasma = {r["patient_id"] for r in records if r["sample_type"] == "plasma"}
    for pid in sorted(patients - with_plasma):
        first = next(r["row"] for r in records if r["patient_id"] == pid)
        problems.append(
            f"{where(path, first, 'patient_id')}: patient {pid!r} has no plasma sample"
        )


def load_clinical(path: str | Path, patients: set[str] | None = None) -> Validated:
    """Read and validate ``clinical.tsv``.

    Required: patient_id, ttf_months (>= 0), ttf_event (1 = treatment failure, 0 = censored).
    Optional: os_months, os_event, best_response (CR/PR/SD/PD/NE), her2_status (amplified/mutant),
    cancer_type, and further covariate columns (kept as given; numeric where they parse).
    ``patients``: the patients of the sample sheet, to warn about rows that match none and
    patients that have no clinical row (they are analysed but left out of survival)."""
    sheet = read_sheet(path)
    problems: list[str] = []
    if not _require_columns(sheet, CLINICAL_REQUIRED, problems):
        raise InputError(problems)
    records = []
    seen: dict[str, int] = {}
    for row, line in zip(sheet.rows, sheet.line_numbers):
        rec: dict[str, object] = dict(row)
        pid = row["patient_id"]
        why = id_problem(pid)
        if why:
            problems.append(f"{where(sheet.path, line, 'patient_id')}: {why}")
        if pid in seen:
            problems.append(
                f"{where(sheet.path, line, 'patient_id')}: duplicate patient_id {pid!r} "
                f"(first on row {seen[pid]})"
            )
        seen.setdefault(pid, line)
        rec.update(_clinical_values(sheet.path, line, row,
                                    ("ttf_months",) + CLINICAL_OPTIONAL_NUMERIC, _parse_float,
                                    _time_problem, problems))
        rec.update(_clinical_values(sheet.path, line, row,
                                    ("ttf_event",) + CLINICAL_OPTIONAL_EVENT, _parse_int,
                                    _event_problem, problems))
        if row.get("os_months", "") != "" and row.get("os_event", "") == "" and "os_event" in row:
            problems.append(f"{where(sheet.path, line, 'os_event')}: os_months given without "
                            "os_event")
        _check_clinical_categories(sheet.path, line, row, problems)
        rec["row"] = line
        records.append(rec)
    if problems:
        raise InputError(problems)
    table = _typed_clinical(pd.DataFrame.from_records(records))
    warnings = _clinical_warnings(sheet.path, table, seen, patients)
    return Validated(table=table.sort_values("patient_id").reset_index(drop=True),
                     warnings=warnings)


def _clinical_values(path: Path, line: int, row: dict[str, str], cols: tuple[str, ...],
                     parse: Callable[[str], float | int | None],
                     problem: Callable[[float | int | None, str], str | None],
                     problems: list[str]) -> dict[str, float | int | None]:
    """Parsed values of the ``cols`` present in a row: ``cols[0]`` is required, the others may be
    empty (None). ``problem(value, text)`` says what is wrong with a value, or None."""
    values: dict[str, float | int | None] = {}
    for col in cols:
        if col not in row:
            continue
        text = row[col]
        if text == "" and col != cols[0]:
            values[col] = None
            continue
        value = parse(text)
        why = problem(value, text)
        if why:
            problems.append(f"{where(path, line, col)}: {why}")
        values[col] = value
    return values


def _time_problem(value: float | int | None, text: str) -> str | None:
    if value is None:
        return f"{text!r} is not a number"
    return f"negative time {text!r}" if value < 0 else None


def _event_problem(value: float | int | None, text: str) -> str | None:
    if value in (0, 1):
        return None
    return f"{text!r} is not an event flag (1 = event, 0 = censored)"


def _check_clinical_categories(path: Path, line: int, row: dict[str, str],
                               problems: list[str]) -> None:
    for col, allowed in (("best_response", BEST_RESPONSES), ("her2_status", HER2_STATUSES)):
        text = row.get(col, "")
        if text and text not in allowed:
            problems.append(
                f"{where(path, line, col)}: {text!r} is not one of {', '.join(allowed)}"
            )


def _typed_clinical(table: pd.DataFrame) -> pd.DataFrame:
    """Covariate columns numeric where every given value parses; event flags as Int64."""
    known = {"patient_id", "row", "best_response", "her2_status", "cancer_type",
             "ttf_months", "ttf_event", "os_months", "os_event"}
    for col in table.columns:
        if col in known:
            continue
        numeric = pd.to_numeric(table[col].replace("", None), errors="coerce")
        if numeric.notna().sum() == (table[col] != "").sum():
            table[col] = numeric
    for col in ("ttf_event", "os_event"):
        if col in table:
            table[col] = table[col].astype("Int64")
    return table


def _clinical_warnings(path: Path, table: pd.DataFrame, seen: dict[str, int],
                       patients: set[str] | None) -> list[str]:
    """Clinical rows without samples and patients without a clinical row (``seen``: patient ->
    row of the clinical sheet)."""
    warnings: list[str] = []
    if patients is None:
        return warnings
    for pid in sorted(set(table["patient_id"]) - patients):
        warnings.append(
            f"{where(path, seen[pid], 'patient_id')}: patient {pid!r} has no samples in "
            "the sample sheet; the row is not used"
        )
    for pid in sorted(patients - set(table["patient_id"])):
        warnings.append(
            f"{path}: patient {pid!r} has samples but no clinical row; the patient is "
            "analysed but left out of survival analyses"
        )
    return warnings
