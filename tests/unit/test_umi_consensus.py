"""The umi stage on PCR families generated here (independent of plasmatrack simulate): duplex
molecules with UMI sequencing errors, families of 1 + Poisson(3) read pairs per strand, 1e-3
sequencing errors per base and first-cycle PCR errors (2e-5 per base, in about half of a strand's
family: single-strand consensus keeps some, duplex none). Truth: every read pair's molecule and
the reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pysam
import pytest

from plasmatrack.errors import InputError
from plasmatrack.umi import UmiSettings
from plasmatrack.umi.metrics import summarise
from plasmatrack.umi.pipeline import ConsensusInputs, run_consensus
from plasmatrack.umi.stream import MoleculeStream
from plasmatrack.umi.umis import UmiProblems

READ = 80
GENOME = 30_000
ERROR = 1e-3
UMI_ERROR = 0.02  # per read pair: one UMI base miscalled
PCR_ERROR = 2e-5  # per base, first PCR cycle of each strand (polymerase error ~1e-5 per cycle)


def _mutate(rng, seq: np.ndarray, rate: float) -> np.ndarray:
    seq = seq.copy()
    hit = rng.random(len(seq)) < rate
    seq[hit] = (seq[hit] + rng.integers(1, 4, hit.sum())) % 4
    return seq


def _segment(header, name, flag, pos, mate_pos, tlen, bases):
    read = pysam.AlignedSegment(header)
    read.query_name, read.flag, read.reference_id = name, flag, 0
    read.reference_start, read.mapping_quality, read.cigarstring = pos, 60, f"{READ}M"
    read.next_reference_id, read.next_reference_start, read.template_length = 0, mate_pos, tlen
    read.query_sequence = "".join("ACGT"[b] for b in bases)
    read.query_qualities = pysam.qualitystring_to_array("?" * READ)  # Q30
    return read


def _pair(rng, header, name, genome, start, length, strand):
    """Reads of one strand of a fragment: A has R1 forward at the left, B R1 reverse right."""
    left = _mutate(rng, genome[start:start + READ], ERROR)
    right = _mutate(rng, genome[start + length - READ:start + length], ERROR)
    rpos = start + length - READ
    first, second = (0x40, 0x80) if strand == "A" else (0x80, 0x40)
    return [_segment(header, name, 0x1 | 0x2 | 0x20 | first, start, rpos, length, left),
            _segment(header, name, 0x1 | 0x2 | 0x10 | second, rpos, start, -length, right)]


def _umi_with_error(rng, umi: str) -> str:
    if rng.random() >= UMI_ERROR:
        return umi
    i = int(rng.choice([k for k, c in enumerate(umi) if c != "+"]))
    return umi[:i] + "ACGT"[("ACGT".index(umi[i]) + 1) % 4] + umi[i + 1:]


def _cohort(tmp_path, seed: int, molecules: int = 1500, genome_length: int = GENOME,
            family_mean: float = 3.0, variants: dict[int, float] | None = None):
    """A sorted, indexed BAM of duplex families, its reference and the truth (read name ->
    molecule). ``variants``: position -> fraction of molecules carrying ref + 1 (mod 4) there;
    then the truth also has ``"alt"``: position -> set of carrying molecules."""
    rng = np.random.default_rng(seed)
    genome = rng.integers(0, 4, genome_length)
    fasta = tmp_path / "ref.fa"
    fasta.write_text(">chr1\n" + "".join("ACGT"[b] for b in genome) + "\n")
    pysam.faidx(str(fasta))
    header = pysam.AlignmentHeader.from_dict(
        {"HD": {"VN": "1.6", "SO": "coordinate"}, "SQ": [{"SN": "chr1", "LN": genome_length}]})
    reads, truth = [], {}
    for mol in range(molecules):
        start = int(rng.integers(0, genome_length - 300))
        length = int(rng.integers(120, 260))
        template = genome.copy() if variants else genome
        for pos, fraction in (variants or {}).items():
            if rng.random() < fraction:
                template[pos] = (genome[pos] + 1) % 4
        alpha, beta = ("".join(rng.choice(list("ACGT"), 6)) for _ in range(2))
        for strand, umi in (("A", f"{alpha}+{beta}"), ("B", f"{beta}+{alpha}")):
            # A first-cycle PCR error of this strand is in about half of its family.
            pcr = template.copy()
            pcr[start:start + length] = _mutate(rng, template[start:start + length], PCR_ERROR)
            for copy in range(1 + rng.poisson(family_mean)):
                name = f"m{mol}{strand}{copy}:{_umi_with_error(rng, umi)}"
                truth[name] = mol
                source = pcr if rng.random() < 0.5 else template
                reads += _pair(rng, header, name, source, start, length, strand)
    reads.sort(key=lambda r: r.reference_start)
    bam = tmp_path / "raw.bam"
    with pysam.AlignmentFile(str(bam), "wb", header=header) as out:
        for read in reads:
            out.write(read)
    pysam.index(str(bam))
    return bam, fasta, truth


def _ari(a: list, b: list) -> float:
    """Adjusted Rand index of two labelings."""
    table = pd.crosstab(pd.Series(a), pd.Series(b)).to_numpy()
    comb = lambda x: x * (x - 1) / 2  # noqa: E731
    index, rows, cols = comb(table).sum(), comb(table.sum(1)).sum(), comb(table.sum(0)).sum()
    expected = rows * cols / comb(table.sum())
    return (index - expected) / ((rows + cols) / 2 - expected)


@pytest.mark.parametrize("seed", [1, 2])
def test_duplex_molecules_assignment_and_error_rates(tmp_path, seed):
    bam, fasta, truth = _cohort(tmp_path, seed)
    settings = UmiSettings(mode="duplex")
    row = run_consensus(bam, tmp_path / "c.bam", tmp_path / "u.tsv", settings,
                        inputs=ConsensusInputs(reference=fasta), grouped_bam=tmp_path / "g.bam",
                        sample_id="S1", patient_id="P1")
    n_true = len(set(truth.values()))
    assert abs(row["molecules"] - n_true) <= 0.01 * n_true
    ours = {}
    with pysam.AlignmentFile(str(tmp_path / "g.bam")) as handle:
        for read in handle:
            ours[read.query_name] = read.get_tag("MI").split("/")[0]
    names = sorted(truth)
    assert _ari([truth[n] for n in names], [ours[n] for n in names]) >= 0.99
    # Error rates per base at reference positions (bases observed are in the row):
    assert row["bases_raw"] > 1_000_000 and 0.5e-3 < row["error_rate_raw"] < 2e-3
    assert row["bases_single"] > 400_000 and row["error_rate_single"] <= 1e-4
    # A family of one read is that read: its rate is the raw rate, reported apart.
    assert row["bases_singleton"] > 20_000 and 0.5e-3 < row["error_rate_singleton"] < 2.5e-3
    assert row["bases_duplex"] > 200_000 and row["errors_duplex"] == 0
    assert row["duplex_molecules"] >= 0.98 * n_true
    table = summarise([pd.read_csv(tmp_path / "u.tsv", sep="\t", dtype={"sample_id": str})])
    assert table.loc[0, "sample_id"] == "S1" and table.loc[0, "molecules"] == row["molecules"]


def test_consensus_vaf_is_unbiased(tmp_path):
    sites = {300 + 60 * i: f for i, f in enumerate((0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3,
                                                      0.5))}
    bam, fasta, truth = _cohort(tmp_path, 7, molecules=3000, genome_length=1000,
                                family_mean=1.0, variants=sites)
    run_consensus(bam, tmp_path / "c.bam", tmp_path / "u.tsv", UmiSettings(mode="duplex"))
    seen: dict[int, dict[int, str]] = {pos: {} for pos in sites}
    with pysam.AlignmentFile(str(tmp_path / "c.bam")) as handle:
        for read in handle:
            molecule = int(read.get_tag("MI"))
            for qpos, rpos in read.get_aligned_pairs(matches_only=True):
                base = read.query_sequence[qpos]
                if rpos in seen and base != "N":
                    seen[rpos].setdefault(molecule, base)
    genome = "".join(fasta.read_text().split("\n")[1:])
    ours, expected = [], []
    for pos in sites:
        alt_base = "ACGT"[("ACGT".index(genome[pos]) + 1) % 4]
        calls = list(seen[pos].values())
        assert len(calls) >= 300, (pos, len(calls))
        ours.append(sum(b == alt_base for b in calls) / len(calls))
        expected.append(sites[pos])
    # Against the generating fractions (3,000 molecules, >= 300 per site): r >= 0.99, and no
    # bias beyond sampling (binomial SD at 0.5 and 300 molecules: 0.029).
    assert np.corrcoef(ours, expected)[0, 1] >= 0.99
    assert abs(np.mean(np.array(ours) - np.array(expected))) < 0.015


def _rewrite(bam, out, change) -> None:
    with pysam.AlignmentFile(str(bam)) as src, \
            pysam.AlignmentFile(str(out), "wb", header=src.header) as dst:
        for i, read in enumerate(src):
            change(i, read)
            dst.write(read)
    pysam.index(str(out))


def test_bad_umis_are_counted_and_named(tmp_path):
    bam, _, _ = _cohort(tmp_path, 3, molecules=50)

    def tag_and_spoil(i, read):
        prefix, umi = read.query_name.split(":")
        read.set_tag("RX", umi)
        if prefix.startswith("m0A"):
            read.set_tag("RX", "ACGNAC+ACGTAC")
        elif prefix.startswith("m1A") and read.is_read1:
            read.set_tag("RX", "AAAAAA+CCCCCC")
        elif prefix.startswith("m2A"):
            read.set_tag("RX", "AAAAAA+CCCCC")
    bad = tmp_path / "bad.bam"
    _rewrite(bam, bad, tag_and_spoil)
    with pytest.raises(InputError) as err:
        run_consensus(bad, tmp_path / "c.bam", tmp_path / "u.tsv",
                      UmiSettings(mode="duplex", source="tag"))
    message = str(err.value)
    for kind in ("UMIs with N", "mates with different UMIs", "UMIs of the wrong length"):
        assert f"{bad}: " in message and kind in message, message
    assert not (tmp_path / "c.bam").exists() and not (tmp_path / "u.tsv").exists()
    single = tmp_path / "single.bam"
    _rewrite(bam, single, lambda i, read: setattr(read, "query_name",
                                                  read.query_name.replace("+", "")))
    with pytest.raises(InputError, match="duplex mode on UMIs of one part"):
        run_consensus(single, tmp_path / "c.bam", tmp_path / "u.tsv", UmiSettings(mode="duplex"))
    unnamed = tmp_path / "unnamed.bam"
    _rewrite(bam, unnamed, lambda i, read: setattr(read, "query_name",
                                                   read.query_name.split(":")[0]))
    with pytest.raises(InputError, match=r"of \d+ reads: reads without a UMI"):
        run_consensus(unnamed, tmp_path / "c.bam", tmp_path / "u.tsv", UmiSettings(mode="single"))


def test_reads_whose_mate_is_absent_are_counted_not_kept(tmp_path):
    bam, _, truth = _cohort(tmp_path, 4, molecules=200)
    orphans = tmp_path / "orphans.bam"
    dropped = 0
    with pysam.AlignmentFile(str(bam)) as src, \
            pysam.AlignmentFile(str(orphans), "wb", header=src.header) as dst:
        for read in src:
            if read.query_name.startswith("m1") and read.is_read2:
                dropped += 1
                continue
            dst.write(read)
    pysam.index(str(orphans))
    peaks, counts = {}, {}
    for path in (bam, orphans):
        stream = MoleculeStream(UmiSettings(mode="duplex"), UmiProblems(str(path)))
        waiting = [0]
        with pysam.AlignmentFile(str(path)) as handle:
            for _ in stream.run(handle):
                waiting.append(len(stream.waiting))
        peaks[path], counts[path] = max(waiting), stream.counts
    assert dropped > 100
    # Each orphan is counted once, and none waits beyond its mate's position: the reads waiting
    # at once stay as few as in the complete file (mates due within an insert), not ~dropped.
    assert counts[orphans].mate_unmapped_or_elsewhere == dropped
    assert counts[orphans].grouped + dropped == counts[orphans].reads
    assert peaks[orphans] <= peaks[bam] + 5
