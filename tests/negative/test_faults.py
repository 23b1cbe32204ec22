"""Faults: a run killed in the middle (SIGKILL during alignment) and rerun completes with the same
results as an uninterrupted run; no half-written output is left behind as if finished."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pysam

from minicohort import write_mini_cohort

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TARGETS = ["results/align/PT1/PT1_N.bam.bai", "results/align/PT1/PT1_D1.bam.bai",
           "results/align/PT1/PT1_D2.bam.bai"]
# The alignments themselves: Snakemake may run the three aligns before any index job or
# interleave them (its job order varies between runs), so a finished BAM, not its index, is what
# "finished before the kill" means.
BAMS = [t.removesuffix(".bai") for t in TARGETS]


def _cmd(workdir: Path, config: Path) -> list[str]:
    return [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(config), "--cores", "1", "--rerun-incomplete", *TARGETS]


def _env():
    return {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}


def _records(bam: Path) -> list[str]:
    with pysam.AlignmentFile(str(bam)) as handle:
        return sorted(r.to_string() for r in handle.fetch(until_eof=True))


def test_sigkill_during_alignment_then_rerun(tmp_path):
    cohort = write_mini_cohort(tmp_path / "cohort", pairs=60_000)
    config = cohort / "config.yaml"
    clean = tmp_path / "clean"
    subprocess.run(_cmd(clean, config), check=True, capture_output=True, env=_env())

    crashed = tmp_path / "crashed"
    proc = subprocess.Popen(_cmd(crashed, config), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=_env(), start_new_session=True)
    deadline = time.time() + 120
    # Kill once the first BAM is finished and a later alignment is under way.
    while time.time() < deadline:
        done = [b for b in BAMS if (crashed / b).exists()]
        # A later alignment's scratch folder, not the finished one's (removed just after its BAM
        # appears, while Snakemake has not yet recorded that job as complete).
        running = [b for b in BAMS if (crashed / b).with_suffix(".tmp").exists()
                   and not (crashed / b).exists()]
        if done and running:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished_before = {b: (crashed / b).stat().st_mtime for b in BAMS if (crashed / b).exists()}
    assert 0 < len(finished_before) < len(BAMS), "the kill did not land mid-run"

    # A SIGKILLed Snakemake leaves its lock behind: the documented recovery is --unlock, then rerun.
    subprocess.run(_cmd(crashed, config) + ["--unlock"], check=True, capture_output=True, env=_env())
    rerun = subprocess.run(_cmd(crashed, config), capture_output=True, text=True, env=_env())
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    for target, mtime in finished_before.items():
        assert (crashed / target).stat().st_mtime == mtime, f"{target} was redone"
    for sample in ("PT1_N", "PT1_D1", "PT1_D2"):
        bam = f"results/align/PT1/{sample}.bam"
        assert _records(crashed / bam) == _records(clean / bam)
    assert not list((crashed / "results/align/PT1").glob("*.tmp"))
