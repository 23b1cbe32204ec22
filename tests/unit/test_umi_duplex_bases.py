"""Which consensus bases count where: adapter read-through past the mate's 5' end, duplex bases
one strand did not call, and families of one read. Every molecule here is written base by base
(no random generator), so each expected count is exact."""

from __future__ import annotations

import numpy as np
import pysam
import pytest

from plasmatrack.umi import UmiSettings
from plasmatrack.umi.pipeline import ConsensusInputs, run_consensus

READ = 80
GENOME = 2_000
ADAPTER = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC"  # Illumina TruSeq read 1 adapter
COMPLEMENT = str.maketrans("ACGT", "TGCA")


def _genome() -> str:
    rng = np.random.default_rng(7)
    return "".join("ACGT"[b] for b in rng.integers(0, 4, GENOME))


def _read(header, name, flag, pos, mate_pos, tlen, seq):
    read = pysam.AlignedSegment(header)
    read.query_name, read.flag, read.reference_id = name, flag, 0
    read.reference_start, read.mapping_quality, read.cigarstring = pos, 60, f"{len(seq)}M"
    read.next_reference_id, read.next_reference_start, read.template_length = 0, mate_pos, tlen
    read.query_sequence = seq
    read.query_qualities = pysam.qualitystring_to_array("?" * len(seq))  # Q30
    return read


def _pair(header, genome, name, strand, start, length, changes=None):
    """One read pair of a fragment ``genome[start:start + length]``, aligned without clipping
    (as bwa does when the adapter's first bases happen to match): a fragment shorter than the
    read reads into the adapter on both reads. ``changes``: reference position -> base, in both
    reads wherever they cover it."""
    fragment = list(genome[start:start + length])
    for pos, base in (changes or {}).items():
        fragment[pos - start] = base
    fragment = "".join(fragment)
    left = (fragment + ADAPTER)[:READ]
    revcomp_adapter = ADAPTER.translate(COMPLEMENT)[::-1]
    right = (revcomp_adapter + fragment)[-READ:]
    rpos = start + length - READ
    first, second = (0x40, 0x80) if strand == "A" else (0x80, 0x40)
    tlen = max(start + READ, start + length) - min(start, rpos)
    return [_read(header, name, 0x1 | 0x2 | 0x20 | first, start, rpos, tlen, left),
            _read(header, name, 0x1 | 0x2 | 0x10 | second, rpos, start, -tlen, right)]


def _run(tmp_path, pairs_of, settings):
    """Consensus metrics of the molecules ``pairs_of(header, genome)`` returns."""
    genome = _genome()
    fasta = tmp_path / "ref.fa"
    fasta.write_text(">chr1\n" + genome + "\n")
    pysam.faidx(str(fasta))
    header = pysam.AlignmentHeader.from_dict(
        {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr1", "LN": GENOME}]})
    reads = sorted(pairs_of(header, genome), key=lambda r: r.reference_start)
    bam = tmp_path / "raw.bam"
    with pysam.AlignmentFile(str(bam), "wb", header=header) as out:
        for read in reads:
            out.write(read)
    pysam.index(str(bam))
    row = run_consensus(bam, tmp_path / "c.bam", tmp_path / "u.tsv", settings,
                        inputs=ConsensusInputs(reference=fasta))
    with pysam.AlignmentFile(str(tmp_path / "c.bam")) as handle:
        return row, list(handle)


def _duplex(header, genome, mol, start, length, sizes=(3, 3), changes=None):
    umi = {"A": "AACCGG+TTGGCA", "B": "TTGGCA+AACCGG"}
    out = []
    for strand, size in zip("AB", sizes):
        for copy in range(size):
            changed = (changes or {}).get((strand, copy))
            out += _pair(header, genome, f"m{mol}{strand}{copy}:{umi[strand]}", strand,
                         start, length, changed)
    return out


def test_adapter_bases_past_the_mates_end_are_masked_and_not_counted(tmp_path):
    # 60-base fragments read 20 adapter bases on each read, the same on every read of both
    # strands, so before masking they passed the duplex as agreed (mostly wrong) bases.
    row, records = _run(tmp_path, lambda h, g: _duplex(h, g, 0, 500, 60),
                        UmiSettings(mode="duplex"))
    assert row["duplex_molecules"] == 1
    assert row["errors_raw"] == row["errors_single"] == row["errors_duplex"] == 0
    assert row["bases_duplex"] == 2 * 60  # each end's fragment bases, no adapter base
    assert row["bases_raw"] == 12 * 60
    for record in records:
        seq = record.query_sequence
        assert (seq[:60] if not record.is_reverse else seq[20:]).count("N") == 0
        assert (seq[60:] if not record.is_reverse else seq[:20]) == "N" * 20


def test_fragments_longer_than_the_read_are_not_masked(tmp_path):
    row, records = _run(tmp_path, lambda h, g: _duplex(h, g, 0, 500, 150),
                        UmiSettings(mode="duplex"))
    assert row["bases_duplex"] == 2 * READ and row["errors_duplex"] == 0
    assert all("N" not in r.query_sequence for r in records)


def _one_strand_error(header, genome):
    # Strand A ties at 520 (one read says T-or-other, one the reference: Q3 -> N); strand B's
    # two reads both carry the other base. The duplex sees B's base on B alone.
    ref = genome[520]
    alt = "ACGT"[("ACGT".index(ref) + 1) % 4]
    return _duplex(header, genome, 0, 500, 150, sizes=(2, 2),
                   changes={("A", 0): {520: alt}, ("B", 0): {520: alt}, ("B", 1): {520: alt}})


@pytest.mark.parametrize(("choice", "errors", "n_bases"), [("mask", 0, 2 * READ - 1),
                                                           ("keep", 1, 2 * READ)])
def test_duplex_bases_from_one_strand(tmp_path, choice, errors, n_bases):
    settings = UmiSettings(mode="duplex", duplex_one_strand_bases=choice)
    row, records = _run(tmp_path, _one_strand_error, settings)
    assert row["duplex_molecules"] == 1
    assert row["errors_duplex"] == errors and row["bases_duplex"] == n_bases
    left = next(r for r in records if not r.is_reverse)
    assert (left.query_sequence[20] == "N") == (choice == "mask")


def _singletons_and_families(header, genome):
    """Ten single-strand families of 3 clean pairs, ten of one pair with one error each."""
    out = []
    for mol in range(20):
        start, size = 100 + 80 * mol, 3 if mol < 10 else 1
        umi = "ACGTAC+GTACGT"
        for copy in range(size):
            wrong = {start + 10: "ACGT"[("ACGT".index(genome[start + 10]) + 1) % 4]}
            out += _pair(header, genome, f"m{mol}A{copy}:{umi}", "A", start, 150,
                         wrong if size == 1 else None)
    return out


def test_single_strand_rate_is_over_families_of_two_or_more(tmp_path):
    row, _ = _run(tmp_path, _singletons_and_families, UmiSettings(mode="single"))
    assert row["consensus_molecules"] == 20
    assert row["bases_single"] == 10 * 2 * READ and row["errors_single"] == 0
    assert row["error_rate_single"] == 0.0
    assert row["bases_singleton"] == 10 * 2 * READ and row["errors_singleton"] == 10
    assert row["error_rate_singleton"] == pytest.approx(10 / (10 * 2 * READ))
