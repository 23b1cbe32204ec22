"""The whole pipeline on a degenerate cohort: one plasma draw per patient, no normal samples, no
HER2-mutant patients, every patient censored (issue 9). It must complete and say, in its tables
and reports, what it could not compute, instead of failing or reporting made-up numbers.

The cohort is a simulated one (seed 21: P01, P02, P04 HER2-amplified, P03 HER2-mutant) reduced
to the amplified patients' plasma draws, with every ttf_event set to 0."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SIMULATE_ARGS = ["--patients", "4", "--draws", "1", "--seed", "21", "--read-pairs", "40000"]
KEPT = ["P01", "P02", "P04"]


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={"sample_id": str, "patient_id": str})


@pytest.fixture(scope="module")
def degenerate_run(tmp_path_factory) -> Path:
    keep = os.environ.get("PLASMATRACK_E2E_DIR")
    root = Path(keep) / "degenerate" if keep else tmp_path_factory.mktemp("degenerate")
    root.mkdir(parents=True, exist_ok=True)
    cohort = root / "cohort"
    subprocess.run([str(BIN / "plasmatrack"), "simulate", "--out", str(cohort), *SIMULATE_ARGS],
                   check=True, capture_output=True, text=True)
    truth = _read(cohort / "truth" / "patients.tsv").set_index("patient_id")
    assert list(truth.index[truth["her2_status"] == "amplified"]) == KEPT
    # New sheets beside the simulated ones (the simulated inputs stay as they are).
    samples = _read(cohort / "samples.tsv")
    samples = samples[samples["patient_id"].isin(KEPT) & (samples["sample_type"] == "plasma")]
    samples.to_csv(cohort / "samples.degenerate.tsv", sep="\t", index=False)
    clinical = _read(cohort / "clinical.tsv")
    clinical = clinical[clinical["patient_id"].isin(KEPT)].assign(ttf_event=0, os_event=0)
    clinical.to_csv(cohort / "clinical.degenerate.tsv", sep="\t", index=False)
    config = yaml.safe_load((cohort / "config.yaml").read_text())
    config.update(samples="samples.degenerate.tsv", clinical="clinical.degenerate.tsv")
    config_path = cohort / "config.degenerate.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(root),
           "--configfile", str(config_path), "--cores", "2", "--rerun-incomplete"]
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env={**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"})
    assert proc.returncode == 0, f"pipeline failed on the degenerate cohort:\n{proc.stderr[-6000:]}"
    return root



def test_no_normals_flat_reference_is_said(degenerate_run):
    tf = _read(degenerate_run / "results/cnv/tumour_fraction.tsv")
    assert sorted(tf["patient_id"].unique()) == KEPT and (tf["sample_type"] == "plasma").all()
    assert (tf["reference"] == "flat").all()
    assert tf["warning"].str.contains("flat reference: no normal samples").all()
    # No tumour-free sample to calibrate detection on: the configured floors are used, and said.
    detection = _read(degenerate_run / "results/cnv/detection.tsv")
    assert detection["tumour_free_samples"].isna().all()
    assert detection["source"].str.startswith("config cnv.detection").all()
    # Nothing is detected in a normal that does not exist, and the strongest draw still is.
    truth = _read(degenerate_run / "cohort/truth/samples.tsv").set_index("sample_id")
    top = tf.loc[tf["sample_id"].map(truth["tumour_fraction"]).idxmax()]
    assert top["sample_id"] == "P01_D1" and bool(top["tf_detected"])


def test_no_normals_variants_flagged_and_chip_genes_kept_out_of_the_tumour(degenerate_run):
    tracked = _read(degenerate_run / "results/variants/tracked_variants.tsv")
    assert tracked["filters"].fillna("").str.contains("no_matched_normal").all()
    # Germline heterozygous sites are recognised from the plasma VAF alone ...
    germline = tracked[tracked["category"] == "germline"]
    assert len(germline) >= 20
    assert germline["filters"].str.contains("germline_vaf_in_plasma").all()
    # ... and the CHIP hotspots detected in plasma (truth: CHIP) are not called somatic.
    variants = _read(degenerate_run / "cohort/truth/variants.tsv")
    chip_truth = set(zip(variants.loc[variants["category"] == "chip", "patient_id"],
                         variants.loc[variants["category"] == "chip", "pos"]))
    is_chip = pd.Series([(p, q) in chip_truth for p, q in zip(tracked["patient_id"],
                                                               tracked["pos"])],
                        index=tracked.index)
    detected_chip = tracked[is_chip & (tracked["status"] == "detected")]
    assert len(detected_chip) >= 2, "the seed should show CHIP in plasma"
    assert (detected_chip["category"] == "chip").all(), detected_chip[["gene", "category"]]
    clusters = _read(degenerate_run / "results/clonal/variant_clusters.tsv")
    clustered = set(zip(clusters["patient_id"], clusters["pos"]))
    assert not clustered & chip_truth


def test_one_draw_per_patient_dynamics_not_evaluable(degenerate_run):
    dyn = _read(degenerate_run / "results/cohort/dynamics.tsv")
    assert sorted(dyn["patient_id"]) == KEPT
    assert (dyn["molecular_response"] == "not_evaluable").all()
    assert dyn["note"].str.contains("no on-treatment draw").all()
    assert dyn["on_treatment_sample_id"].isna().all() and dyn["tf_ratio"].isna().all()
    # One clone per patient from one draw, its prevalence estimable at that draw, tree trivial.
    prevalence = _read(degenerate_run / "results/clonal/cluster_prevalence.tsv")
    assert prevalence.groupby("patient_id")["sample_id"].nunique().eq(1).all()
    tree = _read(degenerate_run / "results/clonal/tree.tsv")
    assert sorted(tree["patient_id"].unique()) == KEPT
    assert tree["sum_rule_ok"].all()


def test_all_censored_no_mutant_survival_says_not_estimable(degenerate_run):
    burden = _read(degenerate_run / "results/cohort/her2_burden.tsv")
    assert sorted(burden["patient_id"]) == KEPT
    survival = _read(degenerate_run / "results/cohort/survival.tsv")
    time_to_event = survival[survival["endpoint"].isin(["ttf", "os"])]
    assert len(time_to_event) >= 10
    assert (time_to_event["events"] == 0).all()
    assert time_to_event["p_value"].isna().all() and time_to_event["hazard_ratio"].isna().all()
    assert time_to_event["note"].str.contains("not estimable|no events").all()


def test_reports_say_what_could_not_be_computed(degenerate_run):
    reports = degenerate_run / "results/reports"
    assert sorted(p.stem for p in (reports / "patients").glob("*.html")) == KEPT
    cohort = (reports / "cohort.html").read_text()
    assert "flat reference: no normal samples" in cohort
    assert "no events: log-rank test not computed" in cohort
    assert "0 with an on-treatment draw by then" in cohort
    assert cohort.rstrip().endswith("</html>")


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_sigkill_during_reports_then_rerun(degenerate_run):
    """Runs last (it removes and rebuilds the reports): Snakemake is killed with SIGKILL once
    some report pages are written and others not; after the documented --unlock, a rerun
    completes and the reports equal, byte for byte, those of the uninterrupted run."""
    root = degenerate_run
    reports = root / "results" / "reports"
    before = _tree(reports)
    pages = ["patients/P01.html", "patients/P02.html", "patients/P04.html", "cohort.html"]
    assert set(pages) <= set(before)
    shutil.rmtree(reports)
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(root),
           "--configfile", str(root / "cohort" / "config.degenerate.yaml"), "--cores", "1",
           "--rerun-incomplete"]
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    deadline = time.time() + 300
    written: list[str] = []
    while time.time() < deadline and proc.poll() is None:
        written = [p for p in pages if (reports / p).exists()]
        if written:
            break
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    written = [p for p in pages if (reports / p).exists()]
    assert 0 < len(written) < len(pages), f"the kill did not land between report jobs: {written}"
    # A page that exists is complete (atomic writes), never a truncated file.
    for page in written:
        assert (reports / page).read_text().rstrip().endswith("</html>"), page
    subprocess.run(cmd + ["--unlock"], check=True, capture_output=True, env=env)
    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    after = _tree(reports)
    assert after.keys() == before.keys(), sorted(set(after) ^ set(before))
    assert [k for k in before if before[k] != after[k]] == []
