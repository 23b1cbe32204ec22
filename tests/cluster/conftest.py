"""A real single-node SLURM cluster for the cluster tests.

The `slurm` fixture (module scope) starts munged, slurmctld and slurmd in the foreground as child
processes of the test, with all state, spool and log files in a temporary folder, and stops
exactly those processes (by PID) when the module's tests end, also after a failure. The only file
written outside that folder is /etc/slurm/slurm.conf: the Snakemake SLURM plugin clears SLURM_CONF
before its inner `srun`, so a config anywhere else makes every job fail. The config carries a
marker line and is removed again at teardown; a slurm.conf without the marker (a real cluster's)
is never touched.

There is no accounting database: `sacct` does not work, so Snakemake must run with
`--slurm-status-command squeue`, and slurmctld keeps finished jobs visible to `squeue` for
MinJobAge seconds (set well above the length of a test run).

Skips, with the reason, only where SLURM cannot be run: the Debian packages slurm-wlm and munge
are missing (`make test` installs them), the tests do not run as root, or another SLURM already
answers on this machine.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

SLURM_CONF = Path("/etc/slurm/slurm.conf")
MARKER = "# written by plasmatrack tests/cluster/conftest.py; removed when the test session ends"
# Serialises concurrent test sessions on one machine (several developers share it): the cluster,
# its ports and /etc/slurm/slurm.conf exist once per machine.
LOCK_FILE = Path("/run/lock/plasmatrack-slurm-test.lock")
LOCK_TIMEOUT_S = 2400
# PIDs of the daemons of the running session, so a session that was killed (no teardown) can have
# its leftover daemons stopped by the next one.
PID_FILE = Path("/run/lock/plasmatrack-slurm-test.pids.json")
PARTITION = "debug"
# CPUs declared per real CPU (see _node_line).
OVERSUBSCRIBE = 4
NEEDED = ("munged", "munge", "unmunge", "slurmctld", "slurmd", "sbatch", "srun", "squeue",
          "scontrol", "sinfo", "scancel")
MAKE_HINT = "install them with `make apt-test` (Debian packages slurm-wlm and munge)"


@dataclass
class SlurmCluster:
    """A running single-node cluster: its node, partition and daemon log files."""

    node: str
    partition: str
    state_dir: Path
    slurmctld_log: Path
    slurmd_log: Path
    cpus: int
    real_memory_mb: int
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def jobs(self, name: str | None = None) -> list[dict[str, str]]:
        """Jobs slurmctld still knows (finished ones for MinJobAge seconds), optionally only those
        with job name ``name`` (the Snakemake plugin names every job of a run by the run's UUID).
        Each: job_id, name, state, min_memory (e.g. '4000M'), cpus, comment."""
        cmd = ["squeue", "--states=all", "--noheader", "--format=%i|%j|%T|%m|%C|%k"]
        if name:
            cmd += ["--name", name]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=30).stdout
        keys = ("job_id", "name", "state", "min_memory", "cpus", "comment")
        return [dict(zip(keys, line.split("|", 5))) for line in out.splitlines() if line.strip()]

    def job_ids_in_slurmd_log(self) -> set[str]:
        """Job IDs that slurmd says it launched (its own log, independent of Snakemake)."""
        import re

        text = self.slurmd_log.read_text(errors="replace") if self.slurmd_log.exists() else ""
        return set(re.findall(r"Launching batch job (\d+)", text))

    def wait_idle(self, timeout_s: float = 120) -> None:
        """Wait until no job is pending or running (e.g. jobs orphaned by a killed Snakemake)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            out = subprocess.run(["squeue", "--noheader", "--states=PENDING,RUNNING,COMPLETING",
                                  "--format=%i"], capture_output=True, text=True, timeout=30)
            if out.returncode == 0 and not out.stdout.strip():
                return
            time.sleep(1)
        raise AssertionError(f"SLURM jobs still active after {timeout_s} s:\n{out.stdout}")


def _missing_tools() -> list[str]:
    paths = [os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]
    search = os.pathsep.join(paths)
    return [tool for tool in NEEDED if shutil.which(tool, path=search) is None]


def _tool(name: str) -> str:
    return shutil.which(name, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"]))


def _alive(pid: int, name: str) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmdline) and Path(cmdline[0].decode(errors="replace")).name == name


def _stop_leftovers() -> None:
    """Stop daemons recorded by an earlier session of this fixture that never reached teardown
    (only PIDs it wrote down, and only if that PID still runs the same program)."""
    if not PID_FILE.exists():
        return
    try:
        recorded = json.loads(PID_FILE.read_text())
    except (OSError, ValueError):
        recorded = {}
    for name, pid in recorded.items():
        if _alive(pid, name):
            os.kill(pid, signal.SIGTERM)
            for _ in range(100):
                if not _alive(pid, name):
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)
    PID_FILE.unlink(missing_ok=True)
    if SLURM_CONF.exists() and MARKER in SLURM_CONF.read_text():
        SLURM_CONF.unlink()


def _munge_works() -> bool:
    try:
        cred = subprocess.run([_tool("munge"), "-n"], capture_output=True, timeout=10)
        if cred.returncode != 0:
            return False
        check = subprocess.run([_tool("unmunge")], input=cred.stdout, capture_output=True,
                               timeout=10)
        return check.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _controller_answers() -> bool:
    try:
        proc = subprocess.run([_tool("scontrol"), "ping"], capture_output=True, text=True,
                              timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "is UP" in proc.stdout


def _node_line() -> tuple[str, str, int, int]:
    """The node definition for this machine: `slurmd -C`'s memory (declared 5% lower, so a small
    fluctuation does not drain the node for 'Low RealMemory') and OVERSUBSCRIBE times its CPUs.
    Test jobs spend most of their time waiting for Snakemake's status polls and starting Python, so
    letting more of them run side by side shortens the test without changing what is tested (each
    job still gets the CPUs it asks for, and slurm.conf says config_overrides)."""
    out = subprocess.run([_tool("slurmd"), "-C"], capture_output=True, text=True, check=True,
                         timeout=30).stdout
    line = next(item for item in out.splitlines() if item.startswith("NodeName="))
    fields = dict(part.split("=", 1) for part in line.split())
    memory = int(int(fields["RealMemory"]) * 0.95)
    cpus = int(fields["CPUs"]) * OVERSUBSCRIBE
    # slurmd finds its node by this name (the short host name), whatever `hostname` prints.
    node = fields["NodeName"]
    return (node, f"NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} "
            "State=UNKNOWN", cpus, memory)


def _slurm_conf(node: str, node_line: str, state: Path) -> str:
    return f"""{MARKER}
ClusterName=plasmatrack-test
SlurmctldHost={node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
# The node's CPUs come from this file, not from the hardware (see OVERSUBSCRIBE).
SlurmdParameters=config_overrides
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# No accounting: squeue is the only record of finished jobs, for this many seconds.
MinJobAge=3600
StateSaveLocation={state}/slurmctld
SlurmdSpoolDir={state}/slurmd
SlurmctldPidFile={state}/slurmctld.pid
SlurmdPidFile={state}/slurmd.pid
SlurmctldLogFile={state}/slurmctld.log
SlurmdLogFile={state}/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
{node_line}
PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _start(name: str, argv: list[str], log: Path, **kwargs) -> subprocess.Popen:
    handle = open(log, "ab")
    # A new session: a Ctrl-C meant for pytest is not delivered to the daemons directly, so
    # teardown stops them in order.
    return subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT,
                            start_new_session=True, **kwargs)


def _stop(proc: subprocess.Popen, timeout_s: float = 20) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _wait_for(what: str, check, timeout_s: float, procs: dict[str, subprocess.Popen],
              logs: list[Path]) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        dead = [n for n, p in procs.items() if p.poll() is not None]
        if dead:
            break
        time.sleep(0.5)
    tails = "\n".join(f"--- {log}:\n{log.read_text(errors='replace')[-3000:]}"
                      for log in logs if log.exists())
    exited = [n for n, p in procs.items() if p.poll() is not None]
    raise RuntimeError(f"SLURM test cluster: {what} did not come up (exited: {exited})\n{tails}")


def _node_state(node: str) -> str:
    proc = subprocess.run([_tool("sinfo"), "--noheader", "--nodes", node, "--format=%T"],
                          capture_output=True, text=True, timeout=30)
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running single-node SLURM cluster (see the module docstring). Module scope: the cluster
    (and the machine-wide lock) lives only while the module that uses it runs."""
    missing = _missing_tools()
    if missing:
        pytest.skip(f"SLURM cannot run here: {', '.join(missing)} not installed; {MAKE_HINT}")
    if os.geteuid() != 0:
        pytest.skip("SLURM cannot run here: starting munged/slurmctld/slurmd needs root")

    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    lock = open(LOCK_FILE, "w")
    deadline = time.monotonic() + LOCK_TIMEOUT_S
    while True:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline:
                lock.close()
                pytest.fail(f"another test session held {LOCK_FILE} for {LOCK_TIMEOUT_S} s")
            time.sleep(2)

    procs: dict[str, subprocess.Popen] = {}
    state = Path(tempfile.mkdtemp(prefix="plasmatrack-slurm-"))
    wrote_conf = False
    try:
        _stop_leftovers()
        if SLURM_CONF.exists():
            pytest.skip(f"SLURM cannot be set up here: {SLURM_CONF} exists and was not written by "
                        "these tests (a real cluster's config is never overwritten)")
        if _controller_answers():
            pytest.skip("SLURM cannot be set up here: another slurmctld already answers")

        if not _munge_works():
            key = Path("/etc/munge/munge.key")
            if not key.exists():
                subprocess.run([_tool("mungekey") or "/usr/sbin/mungekey", "--create"],
                               check=True, capture_output=True)
                shutil.chown(key, "munge", "munge")
            run_dir = Path("/run/munge")
            run_dir.mkdir(parents=True, exist_ok=True)
            shutil.chown(run_dir, "munge", "munge")
            procs["munged"] = _start("munged", [_tool("munged"), "--foreground"],
                                     state / "munged.log", user="munge", group="munge")
            _wait_for("munged", _munge_works, 30, procs, [state / "munged.log"])

        node, node_line, cpus, memory = _node_line()
        for sub in ("slurmctld", "slurmd"):
            (state / sub).mkdir()
        SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SLURM_CONF.write_text(_slurm_conf(node, node_line, state))
        wrote_conf = True
        cluster = SlurmCluster(node=node, partition=PARTITION, state_dir=state,
                               slurmctld_log=state / "slurmctld.log",
                               slurmd_log=state / "slurmd.log", cpus=cpus,
                               real_memory_mb=memory, procs=procs)
        # -D: foreground, so the PID we hold is the daemon's; -i: ignore state of earlier runs.
        procs["slurmctld"] = _start("slurmctld", [_tool("slurmctld"), "-D", "-i"],
                                    state / "slurmctld.out")
        PID_FILE.write_text(json.dumps({n: p.pid for n, p in procs.items()}))
        logs = [state / "slurmctld.out", cluster.slurmctld_log]
        _wait_for("slurmctld", _controller_answers, 60, procs, logs)
        procs["slurmd"] = _start("slurmd", [_tool("slurmd"), "-D"], state / "slurmd.out")
        PID_FILE.write_text(json.dumps({n: p.pid for n, p in procs.items()}))
        logs += [state / "slurmd.out", cluster.slurmd_log]
        _wait_for("slurmd", lambda: _node_state(node) in {"idle", "mixed", "allocated"}, 90,
                  procs, logs)
        probe = subprocess.run([_tool("srun"), "--ntasks=1", "--time=1", "hostname"],
                               capture_output=True, text=True, timeout=120)
        if probe.returncode != 0 or probe.stdout.strip() != socket.gethostname():
            raise RuntimeError(f"SLURM test cluster: `srun hostname` failed:\n{probe.stderr}")
        yield cluster
    finally:
        if "slurmctld" in procs and procs["slurmctld"].poll() is None:
            # Jobs still running under this cluster belong to the tests: cancel, then stop.
            subprocess.run([_tool("scancel"), "--partition", PARTITION],
                           capture_output=True, timeout=30)
        for name in ("slurmd", "slurmctld", "munged"):
            if name in procs:
                _stop(procs[name])
        PID_FILE.unlink(missing_ok=True)
        if wrote_conf and SLURM_CONF.exists() and MARKER in SLURM_CONF.read_text():
            SLURM_CONF.unlink()
        shutil.rmtree(state, ignore_errors=True)
        fcntl.flock(lock, fcntl.LOCK_UN)
        lock.close()
