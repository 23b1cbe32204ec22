"""benchmarks/bench_dag.py counts what a cluster executor would submit from a dry run's log (the
per-sample job count quoted in docs/cluster.md): group jobs once, their member jobs not, local
rules and `all` never."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_dag  # noqa: E402

# The shape Snakemake 9 prints in a dry run with a cluster profile (abridged).
DRY_RUN = """\
[Mon Dec  7 21:58:09 2026] Group job align_sample (jobs in lexicogr. order):

    [Mon Dec  7 21:58:09 2026]
    rule align:
        output: results/align/P01/P01_D1.bam, results/align/P01/P01_D1.bam.bai
    [Mon Dec  7 21:58:09 2026]
    rule qc_sample:
        output: results/qc/P01/P01_D1.qc.tsv
[Mon Dec  7 21:58:09 2026] Group job align_sample (jobs in lexicogr. order):

    [Mon Dec  7 21:58:09 2026]
    rule align:
        output: results/align/P01/P01_N.bam, results/align/P01/P01_N.bam.bai
[Mon Dec  7 21:58:09 2026]
rule cnv_call:
    output: results/cnv/P01/P01_D1.cnr
[Mon Dec  7 21:58:09 2026]
rule cnv_call:
    output: results/cnv/P01/P01_N.cnr
[Mon Dec  7 21:58:09 2026]
rule cnv_summary:
    output: results/cnv/tumour_fraction_cn.tsv
[Mon Dec  7 21:58:09 2026]
localrule reference_fasta:
    output: results/reference/genome.fa
[Mon Dec  7 21:58:09 2026]
rule all:
    input: results/cnv/tumour_fraction_cn.tsv
"""


def test_groups_count_once_local_rules_and_all_never():
    counts = bench_dag.cluster_submissions(DRY_RUN, local={"cnv_summary"})
    assert counts == {"align_sample": 2, "cnv_call": 2}
    assert list(counts) == ["align_sample", "cnv_call"]  # most frequent first, then by name


def test_local_rules_are_read_from_the_rule_files():
    local = bench_dag.local_rules(REPO / "Snakefile")
    assert {"reference_fasta", "cnv_hmm_sample", "qc_summary", "umi_summary"} <= local
    assert not {"align", "check_fastq", "cnv_call", "variants_count"} & local
