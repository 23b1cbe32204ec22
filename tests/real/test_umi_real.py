"""UMI grouping and consensus on real public data (../shared/data; figures from each folder's
README): UMI-tools' own chr19 test outputs, MAGERI's spike-in amplicon and ConsensusCruncher's
duplex subsamples."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pysam
import pytest

from plasmatrack.umi.settings import UmiSettings
from plasmatrack.umi.stream import MoleculeStream, five_prime
from plasmatrack.umi.umis import UmiProblems

pytestmark = pytest.mark.real


def _molecule_of_each_read(bam: Path, settings: UmiSettings) -> dict[tuple[str, int], int]:
    """(read name, 5' end) -> molecule id (the chr19 names repeat at different positions)."""
    assignment = {}
    with pysam.AlignmentFile(str(bam)) as handle:
        for molecule in MoleculeStream(settings, UmiProblems(str(bam))).run(handle):
            for templates in molecule.strands.values():
                for template in templates:
                    assignment[template.name, five_prime(template.reads[0])] = molecule.id
    return assignment


@pytest.mark.parametrize("bam,source", [("chr19_tag.bam", "tag"), ("chr19.bam", "read_name")])
@pytest.mark.parametrize("max_edits,molecules", [(1, 728), (2, 672)])
def test_umitools_chr19_directional_molecules(shared_data, bam, source, max_edits, molecules):
    path = shared_data / "umitools-chr19" / bam
    settings = UmiSettings(mode="single", source=source, max_edits=max_edits)
    assignment = _molecule_of_each_read(path, settings)
    assert len(assignment) == 55_197
    assert len(set(assignment.values())) == molecules


def test_umitools_chr19_partition_is_umitools_group_dir(shared_data):
    folder = shared_data / "umitools-chr19"
    reference = pd.read_csv(folder / "expected" / "group_dir_py3.tsv", sep="\t")
    settings = UmiSettings(mode="single", source="tag", max_edits=1)
    assignment = _molecule_of_each_read(folder / "chr19_tag.bam", settings)
    reference["ours"] = [assignment[key] for key in zip(reference.read_id, reference.position)]
    # Identical partitions: each UMI-tools group is one of ours and each of ours one of theirs.
    assert reference.groupby("unique_id").ours.nunique().max() == 1
    assert reference.groupby("ours").unique_id.nunique().max() == 1
    assert reference.unique_id.nunique() == reference.ours.nunique() == 728


def _mageri_consensus(folder: Path, tmp_path: Path) -> tuple[dict, Path, str]:
    """MAGERI's reads: 14-nt inline UMI cut out, bwa mem to the amplicon, consensus."""
    import shutil
    import subprocess

    from plasmatrack.umi.pipeline import ConsensusInputs, run_consensus, run_extract

    if not (shutil.which("bwa") and shutil.which("samtools")):
        pytest.skip("bwa and samtools are needed to align the MAGERI reads")
    settings = UmiSettings(mode="single", source="inline", read_structures=("14M+T", "+T"))
    fastqs = [tmp_path / "R1.fq.gz", tmp_path / "R2.fq.gz"]
    counts = run_extract(folder / "1_23_R1.fastq.gz", folder / "1_23_R2.fastq.gz", *fastqs,
                         settings)
    assert counts.pairs == 21_953
    ref = tmp_path / "refs.fa"
    shutil.copy(folder / "refs.fa", ref)
    subprocess.run(["bwa", "index", str(ref)], check=True, capture_output=True)
    bam = tmp_path / "raw.bam"
    subprocess.run(f"bwa mem -t 1 {ref} {fastqs[0]} {fastqs[1]} 2>/dev/null | samtools sort "
                   f"-o {bam} - && samtools index {bam}", shell=True, check=True)
    row = run_consensus(bam, tmp_path / "cons.bam", tmp_path / "umi.tsv",
                        UmiSettings(mode="single"), inputs=ConsensusInputs(reference=ref))
    amplicon = "".join(ref.read_text().splitlines()[1:]).upper()
    return row, tmp_path / "cons.bam", amplicon


def test_mageri_spike_variants_after_consensus_and_family_errors_gone(shared_data, tmp_path):
    row, bam, amplicon = _mageri_consensus(shared_data / "mageri-spike-umi", tmp_path)
    # Family counts (docs/umi.md): 188 molecules, 14 with >= 2 reads, the largest 12,987 pairs.
    assert row["molecules"] == 188 and row["families_ge2"] == 14
    assert row["family_size_max"] == 12_987
    alleles = {30: set(), 87: set(), 88: set()}
    big_family_mismatches = []
    with pysam.AlignmentFile(str(bam)) as handle:
        for read in handle:
            for qpos, rpos in read.get_aligned_pairs(matches_only=True):
                base = read.query_sequence[qpos]
                if rpos in alleles and read.get_tag("cD") >= 500:
                    alleles[rpos].add(base)
                elif read.get_tag("cD") >= 500 and base != amplicon[rpos]:
                    big_family_mismatches.append((read.get_tag("RX"), rpos, base))
    # MAGERI's truth: T>C at 30, 87, 88 (the Y bases), each seen as both alleles across the
    # seven big families, each family one clean allele.
    assert all(alleles[pos] == {"T", "C"} for pos in alleles), alleles
    # Raw minority bases inside the big families (e.g. 8 C / 10 G reads at 30 in the
    # 12,791-read T family) are gone: one shared change at 109 in one R2 consensus is all.
    assert big_family_mismatches == [("TGGCGGGTATCTAC", 109, "G")]
    # Single-strand rate over families of >= 2 reads: 3 errors in 2,535 bases, all that shared
    # A>G at 109 (three families of UMI TGGCGGGTATCTAC; a change before the UMI, which no
    # consensus removes); families of one read have their own rate (16 in 30,606, 5.2e-4).
    assert (row["errors_single"], row["bases_single"]) == (3, 2_535)
    assert (row["errors_singleton"], row["bases_singleton"]) == (16, 30_606)
    assert row["error_rate_singleton"] < row["error_rate_raw"] / 2  # 5.2e-4 vs 1.6e-3


@pytest.mark.parametrize("sample,singletons,sscs_reads", [("56", 19_522, 0), ("58", 19_542, 14)])
def test_consensuscruncher_duplex_counts(shared_data, tmp_path, sample, singletons, sscs_reads):
    from plasmatrack.umi.pipeline import run_consensus

    bam = shared_data / "consensuscruncher-duplex" / "bam_input" / f"LargeMid_{sample}_L005.bam"
    row = run_consensus(bam, tmp_path / "c.bam", tmp_path / "u.tsv",
                        UmiSettings(mode="duplex", max_edits=0))
    # ConsensusCruncher counts reads; we count pairs. SSCS reads = 2 x families of 2 pairs.
    assert 2 * row["families_ge2"] == sscs_reads
    # Its singletons also hold pairs whose mate is on another contig, which we do not group
    # (counted apart); its unmapped reads' mates are in neither. 56: exact; 58: 2 reads short.
    ours = (2 * (row["families"] - row["families_ge2"]) + row["reads_mate_unmapped_or_elsewhere"]
            - row["reads_unmapped"])
    assert abs(ours - singletons) <= 2
    # DCS: 0 from families; sample 56's one duplex of two singletons is its "DCS SC reads: 2".
    assert row["duplex_molecules"] == {"56": 1, "58": 0}[sample]
