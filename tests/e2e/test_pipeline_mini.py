"""The pipeline's contract on a tiny cohort written in code (independent of the simulator):
any working directory, real bwa/samtools alignment, nothing rerun on a second start, the input
folder never written to."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pysam

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TARGETS = ["results/align/PT1/PT1_N.bam.bai", "results/align/PT1/PT1_D1.bam.bai",
           "results/align/PT1/PT1_D2.bam.bai", "results/reference/genes.bed",
           "results/reference/panel.bed"]


def _tree_hash(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        digest.update(str(path.relative_to(folder)).encode())
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _snakemake(workdir: Path, config: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(config), "--cores", "2", *extra, *TARGETS]
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    # Run from an unrelated folder: nothing may depend on the caller's working directory.
    return subprocess.run(cmd, capture_output=True, text=True, cwd="/", env=env)


def test_alignment_any_workdir_and_idempotent(mini_cohort, tmp_path):
    before = _tree_hash(mini_cohort)
    workdir = tmp_path / "run"
    proc = _snakemake(workdir, mini_cohort / "config.yaml")
    assert proc.returncode == 0, proc.stderr[-4000:]
    bam = workdir / "results/align/PT1/PT1_D1.bam"
    with pysam.AlignmentFile(str(bam)) as handle:
        assert handle.header.to_dict()["HD"]["SO"] == "coordinate"
        assert handle.header.to_dict()["RG"][0]["SM"] == "PT1_D1"
        reads = list(handle.fetch())
    # 400 pairs simulated from the reference without errors: all map, all properly paired.
    assert len(reads) == 800
    assert sum(r.is_proper_pair for r in reads) == 800
    # Indexes are built under results/reference, never beside the user's FASTA.
    assert (workdir / "results/reference/genome.fa.bwt").is_file()
    assert not (mini_cohort / "genome.fa.fai").exists()
    assert _tree_hash(mini_cohort) == before
    again = _snakemake(workdir, mini_cohort / "config.yaml", "--dry-run")
    assert again.returncode == 0
    assert "Nothing to be done" in again.stdout + again.stderr


def test_bad_sheet_stops_before_any_job(mini_cohort, tmp_path):
    sheet = mini_cohort / "samples.tsv"
    sheet.write_text(sheet.read_text().replace("PT1_D2\tPT1\tplasma\t42", "PT1_D2\tPT1\tplasma\tx"))
    proc = _snakemake(tmp_path / "run", mini_cohort / "config.yaml")
    assert proc.returncode != 0
    assert f"{sheet}, row 4, column 'timepoint_days': 'x' is not a whole number of days" in proc.stderr
    assert not (tmp_path / "run" / "results").exists()


def test_snakemake_lint_is_clean(mini_cohort, tmp_path):
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(mini_cohort / "config.yaml"), "--lint"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
    assert "Lints for" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_dry_run_builds_the_whole_dag(mini_cohort, tmp_path):
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(mini_cohort / "config.yaml"), "--dry-run", "--quiet", "rules"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for rule in ("align", "qc_summary", "variants_tables", "clonal_clones", "report_cohort"):
        assert rule in proc.stdout, f"rule {rule} missing from the DAG:\n{proc.stdout}"


def test_healthy_plasma_alone_can_be_the_panel_of_normals(mini_cohort, tmp_path):
    config = mini_cohort / "config_healthy.yaml"  # beside the original: same relative paths
    base = (mini_cohort / "config.yaml").read_text()
    cmd = [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(config), "--dry-run", "results/cnv/reference.cnn"]
    config.write_text(base + "cnv:\n  healthy_plasma: [PT1_D1]\n  reference_pool: healthy\n")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
    assert proc.returncode == 0, proc.stderr[-3000:]
    job = proc.stdout[proc.stdout.index("rule cnv_reference"):]
    job = job[:job.index("\n\n")]
    assert "PT1_D1.targetcoverage.cnn" in job and "PT1_N." not in job, job
    config.write_text(base + "cnv:\n  reference_pool: healthy\n")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/")
    assert proc.returncode != 0
    assert ("reference_pool is 'healthy' but cnv.healthy_plasma lists no sample"
            in proc.stdout + proc.stderr)
