"""``--identity`` on the standalone ``plasmatrack mrd`` and ``plasmatrack track`` (issue 22),
on ctDNAtools' real example (../shared/data/ctdnatools-mrd): a control that failed identity is
not used (each command's result equals a run without it), a draw that failed it keeps its row
with ``excluded`` true and the reason, as the pipeline's rules do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from plasmatrack.qc.identity_exclusion import LEFT_OUT
from test_mrd_real import data  # noqa: F401  (the data folder, or a skip when it is absent)

pytestmark = pytest.mark.real


def _identity(path: Path, failed: dict[str, str]) -> str:
    """An identity_samples.tsv in which the samples of ``failed`` (-> best match) failed."""
    rows = [{"sample_id": s, "identity_ok": s not in failed, "best_match": failed.get(s, ""),
             "identity_reason": ""} for s in ("T1", "T2", "N1", "N2", "N3")]
    pd.DataFrame(rows).to_csv(path, sep="\t", index=False)
    return str(path)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "plasmatrack", *args], capture_output=True,
                          text=True, check=True)


def _mrd(data, out: Path, controls) -> pd.DataFrame:
    """``plasmatrack mrd``'s function, in this process (the command runs it once, below)."""
    from plasmatrack.mrd.pipeline import StandaloneInputs, run_standalone
    from plasmatrack.mrd.settings import MrdSettings

    inputs = StandaloneInputs(bams=(str(data / "T1.bam"), str(data / "T2.bam")),
                              variants=str(data / "mutations.tsv"),
                              controls=tuple(str(data / f"{c}.bam") for c in controls))
    return run_standalone(inputs, MrdSettings(), out).set_index("sample_id")


def test_mrd_identity_drops_a_failed_control_and_marks_a_failed_draw(data, tmp_path):
    identity = _identity(tmp_path / "identity_samples.tsv", {"N1": "T1", "T2": "X9"})
    _run("mrd", "--bams", str(data / "T1.bam"), str(data / "T2.bam"), "--variants",
         str(data / "mutations.tsv"), "--controls", *(str(data / f"N{i}.bam") for i in (1, 2, 3)),
         "--out", str(tmp_path / "with"), "--identity", identity)
    got = pd.read_csv(tmp_path / "with" / "mrd_calls.tsv", sep="\t").set_index("sample_id")
    without_n1 = _mrd(data, tmp_path / "ref", ("N2", "N3"))
    plain = _mrd(data, tmp_path / "plain", ("N1", "N2", "N3"))
    numbers = ["informative_molecules", "mutant_molecules", "background_expected",
               "tumour_fraction", "p_value", "status"]
    # N1 is nobody's control: the calls are those of a run without it ...
    pd.testing.assert_frame_equal(got[numbers], without_n1[numbers])
    # ... which differ from using it (its molecules enter the background)
    assert (got.loc["T1", "background_expected"]
            != pytest.approx(plain.loc["T1", "background_expected"]))
    assert bool(got.loc["T2", "excluded"]) and not bool(got.loc["T1", "excluded"])
    assert got.loc["T2", "note"].startswith(f"{LEFT_OUT} (best match X9)")
    assert "excluded" not in plain.columns


def _sites(out: Path, data) -> str:
    sites = out / "sites.tsv"  # track wants lower-case column names
    pd.read_csv(data / "mutations.tsv", sep="\t").rename(columns=str.lower)[
        ["chrom", "pos", "ref", "alt"]].to_csv(sites, sep="\t", index=False)
    return str(sites)


def _track(data, out: Path, controls, identity=None) -> tuple[pd.DataFrame, list[str]]:
    """``plasmatrack track``'s function, in this process (the command runs it once, below)."""
    from plasmatrack.variants.pipeline import TrackInputs, track_bam

    inputs = TrackInputs(bam=str(data / "T1.bam"), sites=_sites(out.parent, data),
                         control_bams=tuple(str(data / f"{c}.bam") for c in controls),
                         identity=identity)
    summary = track_bam(inputs, str(out))
    return pd.read_csv(out / "tracked.tsv", sep="\t"), summary["warnings"]


def test_track_identity_drops_a_failed_control_and_marks_a_failed_bam(data, tmp_path):
    identity = _identity(tmp_path / "identity_samples.tsv", {"N1": "T1"})
    proc = _run("track", "--bam", str(data / "T1.bam"), "--sites", _sites(tmp_path, data),
                "--controls", *(str(data / f"N{i}.bam") for i in (1, 2, 3)),
                "--out", str(tmp_path / "with"), "--identity", identity)
    got = pd.read_csv(tmp_path / "with" / "tracked.tsv", sep="\t")
    without_n1, _ = _track(data, tmp_path / "ref", ("N2", "N3"))
    plain, _ = _track(data, tmp_path / "plain", ("N1", "N2", "N3"))
    assert f"warning: control N1 {LEFT_OUT} (best match T1): not used" in proc.stdout
    assert list(got.columns) == [*without_n1.columns, "excluded"] and not got["excluded"].any()
    pd.testing.assert_frame_equal(got.drop(columns="excluded"), without_n1)
    assert not got["background_rate"].equals(plain["background_rate"])
    # the tracked BAM itself failed: its rows stay, marked
    failed = _identity(tmp_path / "failed.tsv", {"T1": "X9"})
    marked, warnings = _track(data, tmp_path / "failed", ("N2", "N3"), failed)
    assert marked["excluded"].all()
    assert f"T1 {LEFT_OUT} (best match X9): called, its rows marked excluded" in warnings
    pd.testing.assert_frame_equal(marked.drop(columns="excluded"), without_n1)
