"""benchmarks/bench_dag.py counts what a cluster executor would submit from a dry run's log (the
per-sample job count quoted in docs/cluster.md): group jobs once, their member jobs not, local
rules and `all` never."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_dag  # noqa: E402

STAMP = "[Mon Dec  7 21:58:09 2026]"


def _job(rule: str, output: str, indent: str = "", kind: str = "rule") -> str:
    return f"{indent}{STAMP}\n{indent}{kind} {rule}:\n{indent}    output: {output}\n"


def _group(name: str, *jobs: str) -> str:
    return f"{STAMP} Group job {name} (jobs in lexicogr. order):\n\n" + "".join(jobs)


# The shape Snakemake 9 prints in a dry run with a cluster profile (abridged): group members
# indented under their group's header, other jobs unindented.
DRY_RUN = (
    _group("align_sample", _job("align", "results/align/P01/P01_D1.bam", "    "),
           _job("qc_sample", "results/qc/P01/P01_D1.qc.tsv", "    "))
    + _group("align_sample", _job("align", "results/align/P01/P01_N.bam", "    "))
    + _job("cnv_call", "results/cnv/P01/P01_D1.cnr") + _job("cnv_call", "results/cnv/P01/P01_N.cnr")
    + _job("cnv_summary", "results/cnv/tumour_fraction_cn.tsv")
    + _job("reference_fasta", "results/reference/genome.fa", kind="localrule")
    + _job("all", "results/cnv/tumour_fraction_cn.tsv")
)


def test_groups_count_once_local_rules_and_all_never():
    counts = bench_dag.cluster_submissions(DRY_RUN, local={"cnv_summary"})
    assert counts == {"align_sample": 2, "cnv_call": 2}
    assert list(counts) == ["align_sample", "cnv_call"]  # most frequent first, then by name


def test_local_rules_are_read_from_the_rule_files():
    local = bench_dag.local_rules(REPO / "Snakefile")
    assert {"reference_fasta", "cnv_hmm_sample", "qc_summary", "umi_summary"} <= local
    assert not {"align", "check_fastq", "cnv_call", "variants_count"} & local
