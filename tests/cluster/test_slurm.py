"""plasmatrack through a real single-node SLURM (started and stopped by conftest.py) with
profiles/slurm, on a small cohort:

- a run is killed with SIGKILL once some samples are aligned, and resumed with the profile (after
  the documented `scancel` + `--unlock`): it completes, and no job that had finished is redone;
- every job that is not a local rule went through SLURM (job IDs in Snakemake's log, launched
  according to slurmd's own log, COMPLETED in squeue) with the memory and CPUs the rules declare;
- the result tables and BAMs equal those of a local run (profiles/local) of the same cohort;
- a job that fails is resubmitted and its memory request grows with the attempt.

The module takes about 5-7 minutes on 2 cores (docs/cluster.md has the breakdown): every SLURM job
starts Snakemake, and the plugin polls squeue, which adds up to 12 s per wave of jobs.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pysam
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SLURM_PROFILE = REPO / "profiles" / "slurm"
LOCAL_PROFILE = REPO / "profiles" / "local"

pytestmark = pytest.mark.cluster

# The test cluster has no accounting database, so `sacct` fails: the plugin must poll squeue
# (slurm.conf keeps finished jobs there for an hour). The first status check comes after 2 s
# instead of 40 s, to keep the test short. Logs of successful jobs are kept for the checks below.
TEST_CLUSTER_ARGS = ["--slurm-status-command", "squeue",
                     "--slurm-init-seconds-before-status-checks", "2",
                     "--slurm-keep-successful-logs"]
# One thread per job (every config section with a `threads` key), so the 2-CPU test node runs two
# jobs at once; the alignment's memory request is checked against what SLURM recorded.
TEST_ALIGN = {"threads": 1, "mem_mb": 1500}
# Published tables compared between the SLURM and the local run: those of the stages that exist
# (the set must be the same in both runs, and grows as stages land).
KEY_TABLES = [
    "results/qc/qc_summary.tsv",
    "results/cnv/tumour_fraction.tsv",
    "results/cnv/genes.tsv",
    "results/cnv/erbb2.tsv",
    "results/variants/tracked_variants.tsv",
    "results/variants/snv_tumour_fraction.tsv",
    "results/clonal/variant_clusters.tsv",
    "results/clonal/cluster_prevalence.tsv",
    "results/cohort/her2_burden.tsv",
    "results/cohort/survival.tsv",
    "results/cohort/dynamics.tsv",
]
# A small simulated cohort (2 patients, a normal and 2 plasma draws each, few reads): enough for
# every stage to run, small enough for the test node. The code-built mini cohort (a 50 kb genome)
# stands in where the simulator is missing.
SIMULATE_ARGS = ["--patients", "2", "--draws", "2", "--seed", "8", "--read-pairs", "20000"]
# A guard against a hung run, not a speed check: the run shares the machine with the other
# pytest-xdist worker (pipeline runs), so it is generous.
RUN_TIMEOUT_S = 1500
# Jobs in SLURM at once during the run that is killed (see slurm_run).
KILLED_RUN_JOBS = 2


@dataclass
class Run:
    root: Path
    logs: list[str] = field(default_factory=list)

    @property
    def log(self) -> str:
        return "\n".join(self.logs)


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}


def _snakemake_cmd(root: Path, config: Path, *extra: str) -> list[str]:
    return [str(BIN / "snakemake"), "-s", str(REPO / "Snakefile"), "--directory", str(root),
            "--configfile", str(config), *extra]


def _run(cmd: list[str], what: str) -> str:
    # From an unrelated folder: nothing may depend on the caller's working directory.
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd="/", env=_env(),
                          timeout=RUN_TIMEOUT_S)
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise AssertionError(f"{what} failed ({' '.join(cmd)}):\n{out[-6000:]}")
    return out


def _simulator_available() -> bool:
    proc = subprocess.run([str(BIN / "plasmatrack"), "simulate", "--help"], capture_output=True,
                          text=True, env=_env())
    return proc.returncode == 0


@pytest.fixture(scope="module")
def cohort_config(tmp_path_factory) -> Path:
    """The test cohort's config (align threads/memory as TEST_ALIGN), beside the cohort's own."""
    folder = tmp_path_factory.mktemp("cluster") / "cohort"
    if _simulator_available():
        _run([str(BIN / "plasmatrack"), "simulate", "--out", str(folder), *SIMULATE_ARGS],
             "plasmatrack simulate")
    else:
        sys.path.insert(0, str(REPO / "tests"))
        from minicohort import write_mini_cohort

        write_mini_cohort(folder)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    for section, spec in schema["properties"].items():
        if "threads" in spec.get("properties", {}):
            config[section] = {**(config.get(section) or {}), "threads": 1}
    config["align"].update(TEST_ALIGN)
    # Same folder as the cohort's config: relative paths resolve against it.
    path = folder / "config.cluster-test.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def local_run_started(cohort_config, tmp_path_factory):
    """The same cohort with profiles/local on 2 cores, started in the background: it is CPU-bound
    while the SLURM run mostly waits for status polls, so the two overlap."""
    root = tmp_path_factory.mktemp("local")
    log_path = root.parent / f"{root.name}.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            _snakemake_cmd(root, cohort_config, "--profile", str(LOCAL_PROFILE), "--cores", "2"),
            stdout=log, stderr=subprocess.STDOUT, cwd="/", env=_env())
    yield root, proc, log_path
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def local_run(local_run_started) -> Run:
    root, proc, log_path = local_run_started
    proc.wait(timeout=RUN_TIMEOUT_S)
    log = log_path.read_text()
    assert proc.returncode == 0, f"local run failed:\n{log[-6000:]}"
    return Run(root, [log])


# --- the SLURM run, killed halfway and resumed -------------------------------------------------


@dataclass
class Job:
    kind: str  # 'rule' (sent to the executor: SLURM), 'localrule', or 'group' (inside a group job)
    rule: str
    jobid: int
    outputs: list[str]
    group: str | None = None
    mem_mb: int | None = None
    threads: int = 1


def _jobs_in_log(log: str) -> list[Job]:
    """The jobs Snakemake started, from the blocks it prints for each ('rule align:' and
    indented lines such as 'output: a, b', 'jobid: 7', 'resources: ..., mem_mb=1500, ...'; the
    jobs of a group job follow its 'Group job NAME' line, indented)."""
    jobs = []
    group = None
    lines = log.splitlines()
    for i, line in enumerate(lines):
        header = re.search(r"Group job (\w+) \(jobs in lexicogr\. order\):", line)
        if header:
            group = header.group(1)
            continue
        match = re.match(r"^(\s*)(localrule|rule) (\w+):$", line)
        if not match:
            continue
        kind = "group" if match.group(1) else match.group(2)
        fields = {}
        for follow in lines[i + 1:]:
            item = re.match(r"^\s+(\w+): (.*)$", follow)
            if not item:
                break
            fields[item.group(1)] = item.group(2)
        outputs = [o.strip() for o in fields.get("output", "").split(",") if o.strip()]
        mem = re.search(r"\bmem_mb=(\d+)", fields.get("resources", ""))
        jobs.append(Job(kind, match.group(3), int(fields["jobid"]), outputs,
                        group=group if kind == "group" else None,
                        mem_mb=int(mem.group(1)) if mem else None,
                        threads=int(fields.get("threads", 1))))
    return jobs


def _finished_jobids(log: str) -> set[int]:
    """Jobs the main Snakemake process saw succeed. A job inside a group job counts only once
    Snakemake has seen the whole group job end: until then it is not finished for Snakemake,
    and a killed group job is redone from its start."""
    return {int(n) for n in re.findall(r"^Finished jobid: (\d+) \(Rule: \w+\)", log, re.M)}


def _submissions(log: str) -> list[str]:
    return re.findall(r"has been submitted with SLURM jobid (\d+)", log)


def _bai_files(root: Path) -> list[Path]:
    return sorted((root / "results" / "align").glob("*/*.bam.bai"))


@dataclass
class ResumedRun(Run):
    run_ids: list[str] = field(default_factory=list)
    finished_at_kill: list[Job] = field(default_factory=list)
    mtimes_at_kill: dict[str, int] = field(default_factory=dict)
    samples: int = 0


def _samples(config: Path) -> pd.DataFrame:
    cfg = yaml.safe_load(config.read_text())
    return pd.read_csv(config.parent / cfg["samples"], sep="\t", dtype=str, comment="#")


def _finished_jobs(log: str) -> list[Job]:
    done = _finished_jobids(log)
    return [job for job in _jobs_in_log(log) if job.jobid in done]


@pytest.fixture(scope="module")
def slurm_run(slurm, cohort_config, local_run_started, tmp_path_factory) -> ResumedRun:
    """`rule all` through SLURM: SIGKILL once Snakemake has seen at least one sample aligned and
    indexed while another is not, then the documented resume: cancel the dead run's jobs,
    --unlock, rerun with the profile."""
    root = tmp_path_factory.mktemp("slurm")
    profile_args = ["--profile", str(SLURM_PROFILE), *TEST_CLUSTER_ARGS]
    n_samples = len(_samples(cohort_config))
    log_path = root.parent / f"{root.name}.killed.log"
    # The killed run keeps at most KILLED_RUN_JOBS jobs in SLURM at once, so when it is seen to
    # finish its first sample at least n_samples - KILLED_RUN_JOBS - 1 samples were never
    # submitted, however fast the node runs the submitted ones before `scancel`: the resumed run
    # has alignments left to do on any machine.
    with open(log_path, "w") as log:
        proc = subprocess.Popen(_snakemake_cmd(root, cohort_config, *profile_args, "--jobs",
                                               str(KILLED_RUN_JOBS)), stdout=log,
                                stderr=subprocess.STDOUT, cwd="/", env=_env())
    deadline = time.monotonic() + RUN_TIMEOUT_S
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            # align writes the BAM and its index (index_bam only indexes imported BAMs)
            indexed = [j for j in _finished_jobs(log_path.read_text()) if j.rule == "align"]
            if 1 <= len(indexed) < n_samples:
                break
            time.sleep(0.3)
        else:
            raise AssertionError("the SLURM run ended or timed out before it could be killed "
                                 f"halfway:\n{log_path.read_text()[-4000:]}")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    first_log = log_path.read_text()
    finished = _finished_jobs(first_log)
    mtimes = {out: (root / out).stat().st_mtime_ns for job in finished for out in job.outputs}
    run_ids = re.findall(r"SLURM run ID: (\S+)", first_log)
    assert len(run_ids) == 1, first_log[-3000:]
    # Resume as docs/cluster.md says: the dead run's jobs would race the new ones for the same
    # outputs, so cancel them (they are named by the run ID), then remove the stale lock.
    subprocess.run(["scancel", "--name", run_ids[0]], check=True, capture_output=True)
    slurm.wait_idle()
    _run(_snakemake_cmd(root, cohort_config, *profile_args, "--unlock"), "snakemake --unlock")
    second_log = _run(_snakemake_cmd(root, cohort_config, *profile_args), "resumed SLURM run")
    run_ids += re.findall(r"SLURM run ID: (\S+)", second_log)
    return ResumedRun(root, [first_log, second_log], run_ids=run_ids, finished_at_kill=finished,
                      mtimes_at_kill=mtimes, samples=n_samples)


def test_killed_run_resumes_without_redoing_finished_jobs(slurm_run, cohort_config):
    root = slurm_run.root
    indexed = [j for j in slurm_run.finished_at_kill if j.rule == "align"]
    assert 1 <= len(indexed) < slurm_run.samples
    # Completed: every sample aligned and indexed, and nothing left to do.
    assert len(_bai_files(root)) == slurm_run.samples
    dry = _run(_snakemake_cmd(root, cohort_config, "--profile", str(SLURM_PROFILE),
                              *TEST_CLUSTER_ARGS, "--dry-run"), "dry run after resume")
    assert "Nothing to be done" in dry
    # The resumed run started none of the jobs that had finished ...
    resumed = _jobs_in_log(slurm_run.logs[1])
    done_outputs = set(slurm_run.mtimes_at_kill)
    redone = [(j.rule, j.outputs) for j in resumed if set(j.outputs) & done_outputs]
    assert not redone, f"resumed run redid finished jobs: {redone}"
    # ... left their outputs untouched ...
    changed = [out for out, mtime in slurm_run.mtimes_at_kill.items()
               if (root / out).stat().st_mtime_ns != mtime]
    assert not changed, f"finished outputs rewritten by the resumed run: {changed}"
    # ... and aligned the remaining samples: those whose group job had not been seen to finish,
    # less those (at most KILLED_RUN_JOBS) that the cancelled run completed before `scancel`.
    aligned_before = sum(j.rule == "align" for j in slurm_run.finished_at_kill)
    aligned_now = sum(j.rule == "align" for j in resumed)
    left = slurm_run.samples - aligned_before
    assert max(1, left - KILLED_RUN_JOBS) <= aligned_now <= left


def test_jobs_went_through_slurm(slurm_run, slurm):
    killed_log, resumed_log = slurm_run.logs
    killed_id, resumed_id = slurm_run.run_ids
    # The killed run had submitted jobs, all known to SLURM under its run ID (cancelled or done).
    # SLURM may know one more: the kill comes right after a job is seen to finish, when Snakemake
    # fills the freed slot, and can land between `sbatch` returning and the log line (a window
    # that widens on a loaded machine).
    killed_jobs = {j["job_id"] for j in slurm.jobs(name=killed_id)}
    logged = set(_submissions(killed_log))
    assert logged and logged <= killed_jobs, (logged, killed_jobs)
    assert len(killed_jobs - logged) <= 1, (logged, killed_jobs)
    # The resumed run: one SLURM job per job sent to the executor or group job (local rules and
    # the target `all` stay on this machine) ...
    submitted = _submissions(resumed_log)
    groups = len(re.findall(r"Group job \w+ \(jobs in lexicogr\. order\):", resumed_log))
    remote = sum(j.kind == "rule" and j.rule != "all" for j in _jobs_in_log(resumed_log))
    assert len(submitted) == remote + groups > 0, resumed_log[-3000:]
    # ... each launched according to slurmd's own log, and COMPLETED in SLURM ...
    assert set(submitted) <= slurm.job_ids_in_slurmd_log()
    jobs = slurm.jobs(name=resumed_id)
    assert {j["job_id"] for j in jobs} == set(submitted)
    assert {j["state"] for j in jobs} == {"COMPLETED"}
    # ... with the resources Snakemake planned from the rules: a plain job's own, and for the
    # per-sample group job the largest layer's (`_group_request`).
    planned = _jobs_in_log(resumed_log)
    for job in jobs:
        comment = job["comment"]
        if comment.startswith("rule_align_sample_"):
            expected_mem, expected_cpus = _group_request(comment, planned)
        else:
            rule = re.match(r"rule_(\w+?)(_wildcards_.*)?$", comment).group(1)
            members = [j for j in planned if j.rule == rule and j.kind == "rule"]
            if not members:  # another group job: its request is checked by the plugin's tests
                continue
            expected_mem, expected_cpus = members[0].mem_mb, members[0].threads
        assert job["min_memory"] == f"{expected_mem}M", (comment, job)
        assert job["cpus"] == str(expected_cpus), (comment, job)
    align = [j for j in planned if j.rule == "align"]
    assert align and {j.mem_mb for j in align} == {TEST_ALIGN["mem_mb"]}
    assert any(j["comment"].startswith("rule_align_sample_") for j in jobs)


# The per-sample group's jobs in the order they can run (profiles/slurm `align_sample`): the jobs
# of one layer need none of each other, so Snakemake runs them at once.
ALIGN_SAMPLE_LAYERS = (("check_fastq",), ("align",), ("index_bam",), ("cnv_coverage",))


def _group_request(comment: str, planned: list[Job]) -> tuple[int, int]:
    """Memory and CPUs Snakemake asks SLURM for a per-sample group job: it runs the group layer
    by layer, a layer's jobs at once, so a layer needs the sum of its jobs' requests and the group
    the largest layer's. The group's members are named in the job's comment
    (`rule_align_sample_<rule>_<rule>...`)."""
    named = comment[len("rule_align_sample_"):]
    members = [j for j in planned if j.group == "align_sample"]
    present = {j.rule for j in members if re.search(rf"(^|_){j.rule}(_|$)", named)}
    mem = {rule: max(j.mem_mb for j in members if j.rule == rule) for rule in present}
    cpus = {rule: max(j.threads for j in members if j.rule == rule) for rule in present}
    layers = [[rule for rule in layer if rule in present] for layer in ALIGN_SAMPLE_LAYERS]
    layers = [layer for layer in layers if layer]
    return (max(sum(mem[r] for r in layer) for layer in layers),
            max(sum(cpus[r] for r in layer) for layer in layers))


def _normalised_table(path: Path, root: Path) -> pd.DataFrame:
    table = pd.read_csv(path, sep="\t", dtype={"sample_id": str, "patient_id": str})
    for column in table.columns[table.dtypes == object]:
        # Object columns can mix strings with booleans or numbers: replace in strings only.
        table[column] = table[column].map(
            lambda v: v.replace(str(root), "<RUN>") if isinstance(v, str) else v)
    return table


def _bam_digest(path: Path) -> tuple[int, str]:
    """Number of records and a digest of every record (the header holds run paths)."""
    digest = hashlib.sha256()
    n = 0
    with pysam.AlignmentFile(str(path), check_sq=False) as bam:
        for read in bam.fetch(until_eof=True):
            digest.update(read.to_string().encode())
            n += 1
    return n, digest.hexdigest()


def test_slurm_results_equal_local_results(slurm_run, local_run):
    compared = []
    for rel in KEY_TABLES:
        in_slurm, in_local = (slurm_run.root / rel).exists(), (local_run.root / rel).exists()
        assert in_slurm == in_local, f"{rel}: present in SLURM run {in_slurm}, local {in_local}"
        if in_slurm:
            pd.testing.assert_frame_equal(_normalised_table(slurm_run.root / rel, slurm_run.root),
                                          _normalised_table(local_run.root / rel, local_run.root),
                                          check_exact=False, rtol=1e-6, obj=rel)
            compared.append(rel)
    bams = sorted(p.relative_to(local_run.root) for p in (local_run.root / "results/align").glob(
        "*/*.bam"))
    assert len(bams) == slurm_run.samples
    for rel in bams:
        local_digest = _bam_digest(local_run.root / rel)
        assert local_digest[0] > 0
        assert _bam_digest(slurm_run.root / rel) == local_digest, rel
    print(f"compared {len(bams)} BAMs and tables: {compared}")


# --- retries with growing memory --------------------------------------------------------------

FLAKY_SNAKEFILE = '''
# Fails on its first attempt (no marker yet), succeeds on the second.
rule all:
    input:
        "declared.txt",
        "default.txt",


rule declared:
    output:
        "declared.txt",
    resources:
        mem_mb=lambda wildcards, attempt: 300 * attempt,
        runtime=5,
    shell:
        "if [ -e declared.tried ]; then echo ok > {output}; else touch declared.tried; exit 1; fi"


rule default:
    output:
        "default.txt",
    shell:
        "if [ -e default.tried ]; then echo ok > {output}; else touch default.tried; exit 1; fi"
'''


def test_failed_job_is_retried_with_more_memory(slurm, tmp_path):
    """Rules scale their memory with `attempt` (as align.smk does); rules that declare none get the
    profile's default, which scales too. Both reach SLURM's --mem on the retry."""
    (tmp_path / "Snakefile").write_text(FLAKY_SNAKEFILE)
    cmd = [str(BIN / "snakemake"), "-s", str(tmp_path / "Snakefile"), "--directory",
           str(tmp_path), "--profile", str(SLURM_PROFILE), *TEST_CLUSTER_ARGS]
    log = _run(cmd, "flaky workflow")
    assert (tmp_path / "declared.txt").read_text() == "ok\n"
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    memory = {}
    for job in slurm.jobs(name=run_id):
        rule = job["comment"].removeprefix("rule_")
        memory.setdefault(rule, []).append((int(job["job_id"]), job["state"], job["min_memory"]))
    assert [(s, m) for _, s, m in sorted(memory["declared"])] == [("FAILED", "300M"),
                                                                  ("COMPLETED", "600M")]
    profile = yaml.safe_load((SLURM_PROFILE / "config.yaml").read_text())
    per_attempt = eval(profile["default-resources"]["mem_mb"], {"attempt": 1})  # noqa: S307
    assert [(s, m) for _, s, m in sorted(memory["default"])] == [
        ("FAILED", f"{per_attempt}M"), ("COMPLETED", f"{2 * per_attempt}M")]
